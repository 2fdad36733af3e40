"""``lockfix merge-driver %O %A %B %L %P [%S %X %Y]``: what git runs for each file that
``.gitattributes`` routes to the ``lockfix`` driver and both sides changed
(``pyproject.toml``, and every backend's lock: ``poetry.lock``, ``uv.lock``).

git holds ``index.lock`` and the working tree still holds *ours* while a driver runs
(shared/README.md §1), so everything here is read-only towards the repository: sides
come from the three temp files and from commits, the package manager runs in a private
tree under
``.git/lockfix/``, and the only write is the result into ``%A``. Whatever goes wrong, the
user gets exactly what plain git would have written, plus one line saying why.
"""

from __future__ import annotations

# Only what it takes to start the package manager is imported up front: for poetry.lock,
# Poetry starts first and imports itself on the other core while the rest of lockfix
# loads and works (see _start_tool); the other imports sit in the functions that need them.
import os
import posixpath
import sys
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lockfix import GIT_WORK_DIR, PYPROJECT
from lockfix.backends import BY_LOCKFILE, LOCKFILES, Backend, Session, Tool
from lockfix.errors import LockfixError
from lockfix.git import Git
from lockfix.policies import LOCK_POLICIES, MANIFEST_POLICIES

if TYPE_CHECKING:
    from lockfix.config import Settings



@dataclass(frozen=True)
class DriverArgs:
    base: Path
    ours: Path
    theirs: Path
    marker_size: int
    path: str
    labels: tuple[str | None, str | None, str | None]  # %S %X %Y (git >= 2.44)


_STARTED = time.monotonic()


def _debug(msg: str) -> None:
    if os.environ.get("LOCKFIX_DEBUG"):
        print(f"lockfix[debug +{time.monotonic() - _STARTED:.3f}s]: {msg}", file=sys.stderr)


def _label(value: str | None, placeholder: str) -> str | None:
    """git < 2.44 passes ``%S``/``%X``/``%Y`` through literally: treat those as absent."""
    return None if value in (None, "", placeholder) else value


def main_from_git(argv: list[str]) -> int:
    """Parse git's ``%O %A %B %L %P [%S %X %Y]`` (and policy flags) without click."""
    flags: dict[str, object] = {}
    positional: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg in ("--manifest-policy", "--lock-policy"):
            flags[arg[2:].replace("-", "_")] = next(it, None)
        elif arg.startswith(("--manifest-policy=", "--lock-policy=")):
            key, _, value = arg[2:].partition("=")
            flags[key.replace("-", "_")] = value
        else:
            positional.append(arg)
    allowed = {"manifest_policy": MANIFEST_POLICIES, "lock_policy": LOCK_POLICIES}
    bad = [f"{k}={v}" for k, v in flags.items() if v not in allowed[k]]
    if bad or len(positional) < 5 or not positional[3].isdigit():
        print("usage: lockfix merge-driver %O %A %B %L %P [%S %X %Y]", file=sys.stderr)
        return 2
    labels = (*positional[5:8], None, None, None)[:3]
    args = DriverArgs(
        Path(positional[0]), Path(positional[1]), Path(positional[2]), int(positional[3]),
        positional[4],
        (_label(labels[0], "%S"), _label(labels[1], "%X"), _label(labels[2], "%Y")),
    )
    return run_driver(args, flags)


@dataclass(frozen=True)
class _Relock:
    """The package manager of the lock being merged, started for its relock."""

    backend: Backend
    tool: Tool
    session: Session
    work: Path


def _start_tool(git: Git, backend: Backend) -> _Relock:
    """Start the lock's package manager now, before anything else is loaded or done."""
    work = git.git_dir() / GIT_WORK_DIR
    tool = backend.find_tool(None, cache_dir=work)
    env = backend.private_env(os.environ, work)
    for var in [k for k in env if k.startswith("GIT_") or k.startswith("GITHEAD_")]:
        del env[var]  # the tool's own git calls must not see the merge's environment
    _debug(f"{tool.label} starting")
    return _Relock(backend, tool, tool.session(env), work)


def run_driver(args: DriverArgs, settings_flags: Mapping[str, object] | None = None) -> int:
    git = Git(Path.cwd())
    if os.environ.get("LOCKFIX_DISABLE"):  # one command without lockfix: plain git's merge
        return _plain_merge(git, args)[0]
    backend = BY_LOCKFILE.get(posixpath.basename(args.path))
    if backend is not None:
        try:
            relock = _start_tool(git, backend)
        except LockfixError as exc:
            return _fallback(git, args, exc.message.splitlines()[0], detail=exc.message)
        except Exception as exc:  # as in _drive: a conflict, never a crash
            return _fallback(git, args, f"internal error: {exc!r}")
        with relock.session:
            return _drive(git, args, settings_flags, relock)
    return _drive(git, args, settings_flags, None)


def _drive(git: Git, args: DriverArgs, settings_flags: Mapping[str, object] | None,
           relock: _Relock | None) -> int:
    from lockfix.config import load_settings

    try:
        settings = load_settings(Path.cwd()).override(**(settings_flags or {}))
    except LockfixError as exc:
        return _fallback(git, args, f"configuration: {exc.message}")
    name = posixpath.basename(args.path)
    try:
        if name == PYPROJECT:
            text = _merge_pyproject(args, settings)
            args.ours.write_text(text, encoding="utf-8")
            _debug(f"{args.path}: merged at the TOML level")
            return 0
        if relock is not None:
            started = time.monotonic()
            text, how = _merge_lock(git, args, settings, relock)
            args.ours.write_text(text, encoding="utf-8")
            print(
                f"lockfix: {args.path}: regenerated ({how}, {time.monotonic() - started:.1f}s)",
                file=sys.stderr,
            )
            return 0
        return _fallback(git, args, f"lockfix only handles {PYPROJECT} and {', '.join(LOCKFILES)}")
    except LockfixError as exc:
        return _fallback(git, args, exc.message.splitlines()[0], detail=exc.message)
    except Exception as exc:  # never leave git with a crash instead of a conflict
        return _fallback(git, args, f"internal error: {exc!r}")


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def _merge_pyproject(args: DriverArgs, settings: Settings) -> str:
    from lockfix.manifest import merge_manifest  # see _merge_lock for why imports are late

    base = _read(args.base)
    merged = merge_manifest(
        base if base.strip() else None,
        _read(args.ours),
        _read(args.theirs),
        settings.manifest_policy,
        where=args.path,
    )
    for clash in merged.clashes:  # which side each clash took, and why
        print(f"lockfix: {args.path}: {clash.note()}", file=sys.stderr)
    return merged.text


class _TreeDirs(Collection[str]):
    """Every directory holding a pyproject.toml in ours' or theirs' tree, listed from git
    the first time a backend asks (a uv workspace root matching its member globs)."""

    def __init__(self, git: Git, revs: tuple[str, ...]) -> None:
        self._git, self._revs = git, revs
        self._dirs: set[str] | None = None

    def _load(self) -> set[str]:
        if self._dirs is None:
            self._dirs = set()
            for rev in self._revs:
                out = self._git.run("ls-tree", "-r", "--name-only", rev, check=False)
                self._dirs.update(posixpath.dirname(p) for p in out.splitlines()
                                  if posixpath.basename(p) == PYPROJECT)
        return self._dirs

    def __contains__(self, item: object) -> bool:
        return item in self._load()

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._load()))

    def __len__(self) -> int:
        return len(self._load())


def _merged_manifests(
    git: Git, commits: tuple[str | None, str, str], start: str, settings: Settings
) -> dict[str, str]:
    """Merged pyproject.toml of ``start`` and of every package its lock records (path
    dependencies, workspace members), exactly as the pyproject.toml driver merges them
    (same function, same sides, same policy)."""
    from lockfix.manifest import merge_manifest
    from lockfix.toml import load_toml
    from lockfix.workspace import links

    base_rev, ours_rev, theirs_rev = commits
    known = _TreeDirs(git, (ours_rev, theirs_rev))
    result: dict[str, str] = {}
    todo = [start]
    while todo:
        d = todo.pop()
        if d in result:
            continue
        rel = posixpath.join(d, PYPROJECT) if d else PYPROJECT
        revs = [rev for rev in (base_rev, ours_rev, theirs_rev) if rev]
        blobs = dict(zip(revs, git.read_blobs([f"{rev}:{rel}" for rev in revs])))
        base, ours, theirs = (
            b.decode("utf-8") if (b := blobs.get(rev or "")) is not None else None
            for rev in (base_rev, ours_rev, theirs_rev)
        )
        if ours is None and theirs is None:
            raise LockfixError(f"{rel}: path dependency not found in either commit")
        if ours is None or theirs is None:
            text = ours if ours is not None else theirs
            assert text is not None
        else:
            text = merge_manifest(base, ours, theirs, settings.manifest_policy, where=rel).text
        result[d] = text
        todo.extend(links(load_toml(text, rel), d, known))
    return result


def _theirs_only(git: Git, commits: tuple[str | None, str, str],
                 dirs: Collection[str]) -> dict[str, tuple[str, str] | None]:
    """Files under ``dirs`` that only the incoming side changed since the base, which is
    what git's merge takes from it: path -> (mode, blob id) at theirs, None if deleted.
    (A file both sides changed is being merged by git right now: ours' stays.)"""
    base_rev, ours_rev, theirs_rev = commits
    if base_rev is None or not dirs:
        return {}

    def changed(rev: str) -> dict[str, tuple[str, str] | None]:
        out = git.run_bytes(["diff-tree", "-r", "-z", "--no-renames", base_rev, rev, "--",
                             *sorted({d or "." for d in dirs})], check=False).stdout
        fields = out.split(b"\0")
        found: dict[str, tuple[str, str] | None] = {}
        for header, path in zip(fields[0::2], fields[1::2]):
            _, mode, _, sha, status = header.decode().lstrip(":").split()
            found[path.decode("utf-8", "surrogateescape")] = None if status == "D" else (mode, sha)
        return found

    ours = changed(ours_rev)
    return {p: v for p, v in changed(theirs_rev).items() if p not in ours}


def _materialize(git: Git, tree: Path, commits: tuple[str | None, str, str],
                 manifests: Mapping[str, str]) -> None:
    """Write each package directory (ours' files, else theirs', plus every file only
    theirs changed, as git's merge will) with its merged manifest and no lock of any
    kind. The build code a relock may run is then the merge's, not a stale copy."""
    import io
    import tarfile

    _, ours_rev, theirs_rev = commits
    incoming = _theirs_only(git, commits, manifests)
    merged = {posixpath.join(d, PYPROJECT) if d else PYPROJECT for d in manifests}
    regular = {p: v for p, v in incoming.items()
               if p not in merged and (v is None or v[0] in ("100644", "100755"))}
    blobs = dict(zip(regular, git.read_blobs([f"{theirs_rev}:{p}" for p in regular])))
    for d, text in manifests.items():
        for rev in (ours_rev, theirs_rev):
            proc = git.run_bytes(["archive", "--format=tar", rev, "--", d or "."], check=False)
            if proc.returncode == 0:
                with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
                    members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
                    tar.extractall(tree, members=members)
                break
        target = tree / d
        for path, entry in regular.items():
            if d and not path.startswith(d + "/"):
                continue
            if entry is None:
                (tree / path).unlink(missing_ok=True)
            elif (data := blobs.get(path)) is not None:
                (tree / path).parent.mkdir(parents=True, exist_ok=True)
                (tree / path).write_bytes(data)
                (tree / path).chmod(0o755 if entry[0] == "100755" else 0o644)
        target.mkdir(parents=True, exist_ok=True)
        (target / PYPROJECT).write_text(text, encoding="utf-8")
        for lockfile in LOCKFILES:
            (target / lockfile).unlink(missing_ok=True)


def _merge_lock(git: Git, args: DriverArgs, settings: Settings,
                relock: _Relock) -> tuple[str, str]:
    import shutil

    from lockfix.toml import load_toml

    backend, tool = relock.backend, relock.tool
    base_bytes = args.base.read_bytes()
    ours_bytes = args.ours.read_bytes()
    theirs_bytes = args.theirs.read_bytes()
    head_blob = git.object_ids([f"HEAD:{args.path}"])[0]
    found = git.merging_commits(
        dict(os.environ),
        args.path,
        git.hash_blob(base_bytes, head_blob) if base_bytes else None,
        git.hash_blob(ours_bytes, head_blob),
        git.hash_blob(theirs_bytes, head_blob),
    )
    if found is None:
        raise LockfixError("could not tell which commits are being merged")
    base_rev, ours_rev, theirs_rev, how = found
    _debug("commits identified")
    _debug(f"{args.path}: {how}: base={base_rev} ours={ours_rev} theirs={theirs_rev}")
    commits = (base_rev, ours_rev, theirs_rev)
    pkg = posixpath.dirname(args.path)
    manifests = _merged_manifests(git, commits, pkg, settings)
    data = {d: load_toml(text, posixpath.join(d, PYPROJECT) if d else PYPROJECT)
            for d, text in manifests.items()}
    _build_gate(git, ours_rev, theirs_rev, data, relock)
    preferred = backend.merge_locks(
        base_bytes.decode("utf-8") or None,
        ours_bytes.decode("utf-8"),
        theirs_bytes.decode("utf-8"),
        settings.lock_policy,
        where=args.path,
        manifest=data[pkg],
    )
    _debug("manifests and preferred lock merged")
    tree = relock.work / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    try:
        _materialize(git, tree, commits, manifests)
        _debug("private tree written")
        lock_path = tree / pkg / backend.lockfile
        if tool.reads(preferred.lock_version):
            lock_path.write_text(preferred.text, encoding="utf-8")
        relock.session.relock(tree / pkg, timeout=settings.timeout)
        text = lock_path.read_text(encoding="utf-8")
        _debug(f"relocked ({'one started tool' if relock.session.preloaded else 'plain process'})")
        judged = backend.freshness(text, pkg, data, root=tree)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    if not judged.fresh:
        raise LockfixError(f"{tool.label}'s lock does not match the merged manifests: "
                           + "; ".join(judged.reasons))
    return text, f"{how}, {tool.label}"


def _build_gate(git: Git, ours_rev: str, theirs_rev: str,
                manifests: Mapping[str, Mapping[str, object]], relock: _Relock) -> None:
    """Plain git never runs code from the merged branch; neither does the driver unless
    the user allowed it (``lockfix.buildsafety``, ``config.allow_build``). Refuse when a
    reached package needs build code the incoming side added or changed; otherwise let a
    backend that can enforce it (uv) refuse to build the packages predicted static."""
    from lockfix.buildsafety import needs_build, new_build_code, reader_for, static_names
    from lockfix.config import allow_build

    reader = reader_for(relock.backend.name, relock.tool.version)
    enforced = relock.session.can_forbid_builds
    if not enforced and not needs_build(manifests, reader):
        return  # nothing to build, nothing to enforce: no need to ask
    allowed, source = allow_build(git)
    if allowed:
        _debug(f"build code may run ({source})")
        return
    found = new_build_code(git, ours_rev, theirs_rev, manifests, reader)
    if found:
        more = f" and {len(found) - 1} more" if len(found) > 1 else ""
        raise LockfixError(
            f"not relocked: that would run build code the incoming side added or changed, "
            f"in {found[0].describe()}{more}; read it, then run `lockfix run`, or allow it "
            f"in this clone with `git config lockfix.allowBuild true`"
        )
    if enforced:
        relock.session.forbid_builds(static_names(manifests, reader))


def _conflict_style(git: Git) -> list[str]:
    style = git.run("config", "--get", "merge.conflictStyle", check=False).strip().lower()
    return {"diff3": ["--diff3"], "zdiff3": ["--zdiff3"]}.get(style, [])


def _plain_merge(git: Git, args: DriverArgs) -> tuple[int, int]:
    """git's own line merge of the three files into %A: (exit status for git, conflicts)."""
    base_label, ours_label, theirs_label = args.labels
    theirs_name = next(
        (v for k, v in os.environ.items() if k.startswith("GITHEAD_")), None
    )
    labels = [
        ours_label or "HEAD",
        base_label or "merged common ancestors",
        theirs_label or theirs_name or "theirs",
    ]
    cmd = ["git", "merge-file", "-p", f"--marker-size={args.marker_size}",
           *_conflict_style(git), "-L", labels[0], "-L", labels[1], "-L", labels[2],
           str(args.ours), str(args.base), str(args.theirs)]
    import subprocess

    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode < 0 or proc.returncode > 127:
        return 2, -1
    args.ours.write_bytes(proc.stdout)
    return (0 if proc.returncode == 0 else 1), proc.returncode


def _fallback(git: Git, args: DriverArgs, reason: str, detail: str | None = None) -> int:
    """Leave what plain git leaves: a line merge with standard markers, then exit 1."""
    status, conflicts = _plain_merge(git, args)
    if conflicts < 0:
        print(f"lockfix: {args.path}: {reason}; git merge-file failed too", file=sys.stderr)
        return status
    print(
        f"lockfix: {args.path}: {reason}; left conflict markers "
        f"(resolve, or run `lockfix run` to retry)",
        file=sys.stderr,
    )
    if detail and detail != reason:
        _debug(detail)
    if conflicts == 0 and posixpath.basename(args.path) not in BY_LOCKFILE:
        return 0  # plain git would have merged this text cleanly; so do we
    return 1
