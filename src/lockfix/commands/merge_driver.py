"""``lockfix merge-driver %O %A %B %L %P [%S %X %Y]``: what git runs for each file that
``.gitattributes`` routes to the ``lockfix`` driver and both sides changed.

git holds ``index.lock`` and the working tree still holds *ours* while a driver runs
(shared/README.md §1), so everything here is read-only towards the repository: sides
come from the three temp files and from commits, Poetry runs in a private tree under
``.git/lockfix/``, and the only write is the result into ``%A``. Whatever goes wrong, the
user gets exactly what plain git would have written, plus one line saying why.
"""

from __future__ import annotations

# Only what it takes to start Poetry is imported up front: for poetry.lock, Poetry starts
# first and imports itself on the other core while the rest of lockfix loads and works
# (see _start_poetry); the other imports sit in the functions that need them.
import os
import posixpath
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lockfix import GIT_WORK_DIR, LOCKFILE, PYPROJECT
from lockfix.backends.poetry.tool import PoetrySession, find_poetry
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


def _start_poetry(git: Git) -> tuple[PoetrySession, Path]:
    """Start Poetry for this lock's relock now, before anything else is loaded or done."""
    work = git.git_dir() / GIT_WORK_DIR
    poetry = find_poetry(None, cache_dir=work)
    env = {
        **os.environ,
        # a stable private place, so the venv Poetry wants is made once and reused,
        # inside the repository rather than in the user's cache
        "POETRY_VIRTUALENVS_PATH": str(work / "venvs"),
        "POETRY_VIRTUALENVS_IN_PROJECT": "false",
    }
    for var in [k for k in env if k.startswith("GIT_") or k.startswith("GITHEAD_")]:
        del env[var]  # Poetry's own git calls must not see the merge's environment
    _debug(f"Poetry {poetry.version_text} starting")
    return poetry.session(env), work


def run_driver(args: DriverArgs, settings_flags: Mapping[str, object] | None = None) -> int:
    git = Git(Path.cwd())
    if os.environ.get("LOCKFIX_DISABLE"):  # one command without lockfix: plain git's merge
        return _plain_merge(git, args)[0]
    name = posixpath.basename(args.path)
    if name == LOCKFILE:
        try:
            session, work = _start_poetry(git)
        except LockfixError as exc:
            return _fallback(git, args, exc.message.splitlines()[0], detail=exc.message)
        except Exception as exc:  # as in _drive: a conflict, never a crash
            return _fallback(git, args, f"internal error: {exc!r}")
        with session:
            return _drive(git, args, settings_flags, session, work)
    return _drive(git, args, settings_flags, None, None)


def _drive(git: Git, args: DriverArgs, settings_flags: Mapping[str, object] | None,
           session: PoetrySession | None, work: Path | None) -> int:
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
        if session is not None and work is not None:
            started = time.monotonic()
            text, how = _merge_lock(git, args, settings, session, work)
            args.ours.write_text(text, encoding="utf-8")
            print(
                f"lockfix: {args.path}: regenerated ({how}, {time.monotonic() - started:.1f}s)",
                file=sys.stderr,
            )
            return 0
        return _fallback(git, args, f"lockfix only handles {PYPROJECT} and {LOCKFILE}")
    except LockfixError as exc:
        return _fallback(git, args, exc.message.splitlines()[0], detail=exc.message)
    except Exception as exc:  # never leave git with a crash instead of a conflict
        return _fallback(git, args, f"internal error: {exc!r}")


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def _merge_pyproject(args: DriverArgs, settings: Settings) -> str:
    from lockfix.manifest import merge_manifest  # see _merge_lock for why imports are late

    base = _read(args.base)
    return merge_manifest(
        base if base.strip() else None,
        _read(args.ours),
        _read(args.theirs),
        settings.manifest_policy,
        where=args.path,
    ).text


def _merged_manifests(
    git: Git, commits: tuple[str | None, str, str], start: str, settings: Settings
) -> dict[str, str]:
    """Merged pyproject.toml of ``start`` and of every package it reaches by path, exactly
    as the pyproject.toml driver merges them (same function, same sides, same policy)."""
    from lockfix.manifest import merge_manifest
    from lockfix.toml import load_toml
    from lockfix.workspace import path_dependencies

    base_rev, ours_rev, theirs_rev = commits
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
        todo.extend(path_dependencies(load_toml(text, rel), d))
    return result


def _materialize(git: Git, tree: Path, commits: tuple[str | None, str, str],
                 manifests: Mapping[str, str]) -> None:
    """Write each package directory (ours' files, else theirs') with its merged manifest."""
    import io
    import tarfile

    _, ours_rev, theirs_rev = commits
    for d, text in manifests.items():
        for rev in (ours_rev, theirs_rev):
            proc = git.run_bytes(["archive", "--format=tar", rev, "--", d or "."], check=False)
            if proc.returncode == 0:
                with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
                    members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
                    tar.extractall(tree, members=members)
                break
        target = tree / d
        target.mkdir(parents=True, exist_ok=True)
        (target / PYPROJECT).write_text(text, encoding="utf-8")
        (target / LOCKFILE).unlink(missing_ok=True)


def _merge_lock(git: Git, args: DriverArgs, settings: Settings, session: PoetrySession,
                work: Path) -> tuple[str, str]:
    import shutil

    from lockfix.backends.poetry import freshness as hashing
    from lockfix.backends.poetry.lock import lock_is_parseable_by, merge_locks, parse_lock
    from lockfix.toml import load_toml

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
    preferred = merge_locks(
        base_bytes.decode("utf-8") or None,
        ours_bytes.decode("utf-8"),
        theirs_bytes.decode("utf-8"),
        settings.lock_policy,
        where=args.path,
        manifest=load_toml(manifests[pkg], posixpath.join(pkg, PYPROJECT)),
    )
    _debug("manifests and preferred lock merged")
    tree = work / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    try:
        _materialize(git, tree, commits, manifests)
        _debug("private tree written")
        lock_path = tree / pkg / LOCKFILE
        version = session.poetry.version
        if lock_is_parseable_by(preferred.lock_version, version):
            lock_path.write_text(preferred.text, encoding="utf-8")
        session.relock(tree / pkg, timeout=settings.timeout)
        text = lock_path.read_text(encoding="utf-8")
        _debug(f"Poetry relocked ({'one started Poetry' if session.preloaded else 'plain process'})")
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    freshness = hashing.lock_freshness(load_toml(manifests[pkg], args.path), parse_lock(text))
    if not freshness.fresh:
        raise LockfixError("Poetry's lock does not match the merged pyproject.toml")
    return text, f"{how}, Poetry {session.poetry.version_text}"


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
    if conflicts == 0 and posixpath.basename(args.path) != LOCKFILE:
        return 0  # plain git would have merged this text cleanly; so do we
    return 1
