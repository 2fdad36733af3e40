"""One lock's merge, exactly as a driver call computes it: from the lock's three sides
and the commits being merged, the merged manifests of every package it reaches, a private
tree under ``.git/lockfix/`` holding them, the relock there, and the verified result.

:mod:`lockfix.commands.merge_driver` runs it for the file git handed over; a merge that
conflicts in several locks runs it for all of them at once (:mod:`lockfix.batch`), and
each call takes the result computed from exactly its own inputs.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import sys
import time
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from lockfix import GIT_WORK_DIR, PYPROJECT
from lockfix.backends import LOCKFILES, Backend, Session, Tool
from lockfix.errors import LockfixError
from lockfix.git import Git

if TYPE_CHECKING:
    from lockfix.config import Settings
    from lockfix.policies import ManifestPolicy

_STARTED = time.monotonic()

#: (base, ours, theirs) commits (or trees, for ``git am``) of the merge being driven
Commits = tuple[Optional[str], str, str]


def debug(msg: str) -> None:
    """``LOCKFIX_DEBUG=1``: a line with the wall clock (to line up the driver calls of one
    merge and its batch worker) and the time since this process started."""
    if os.environ.get("LOCKFIX_DEBUG"):
        now = time.time()
        clock = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"
        print(f"lockfix[debug {clock} {os.getpid()} +{time.monotonic() - _STARTED:.3f}s]: {msg}",
              file=sys.stderr)


def preload(backend: Backend) -> None:
    """Import what regenerating a lock needs on a background thread, while the main
    thread waits for git and the tool (its imports hold the interpreter only while the
    main thread sleeps in a system call). For uv, whose relock takes a few hundred
    milliseconds, this is a visible share of the driver's own time; the modules are the
    backend package's ``lock`` and ``freshness`` (every backend has that shape)."""
    import importlib
    import threading

    names = ("lockfix.config", "lockfix.manifest", "lockfix.buildsafety", "lockfix.workspace",
             f"lockfix.backends.{backend.name}.lock", f"lockfix.backends.{backend.name}.freshness")

    def load() -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # the main thread imports it again and reports what failed
                return

    threading.Thread(target=load, name="lockfix-preload", daemon=True).start()


class Relock:
    """The package manager of a lock being merged: its tool, and a session started at
    once (``eager``: Poetry imports itself on the other core while lockfix works) or on
    first use (a call that may not need to relock at all)."""

    def __init__(self, backend: Backend, tool: Tool, env: Mapping[str, str], work: Path,
                 *, eager: bool = True, session: Session | None = None) -> None:
        self.backend, self.tool, self.env, self.work = backend, tool, dict(env), work
        self._session = session if session is not None else (
            tool.session(self.env) if eager else None)
        self._owned = session is None

    @classmethod
    def start(cls, git: Git, backend: Backend, *, eager: bool = True) -> Relock:
        work = git.git_dir() / GIT_WORK_DIR
        tool = backend.find_tool(None, cache_dir=work)
        env = backend.private_env(os.environ, work)
        for var in [k for k in env if k.startswith("GIT_") or k.startswith("GITHEAD_")]:
            del env[var]  # the tool's own git calls must not see the merge's environment
        debug(f"{tool.label} {'starting' if eager else 'found'}")
        return cls(backend, tool, env, work, eager=eager)

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self.tool.session(self.env)
            self._owned = True
        return self._session

    def close(self) -> None:
        """Stop the tool if this object started it (a shared session is its owner's)."""
        if self._session is not None and self._owned:
            self._session.__exit__(None, None, None)
        self._session = None

    def __enter__(self) -> Relock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


#: manifests merged in this process, by their sides and policy (a batch worker's locks
#: reach the same packages)
_MERGED: dict[tuple[str, str | None, str, str, str], str] = {}


def _merged_manifests(
    git: Git, commits: Commits, start: str, settings: Settings
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
        elif ours == theirs or base == theirs:
            text = ours  # what git's merge writes when at most one side changed the file
        elif base == ours:
            text = theirs
        else:
            key = (rel, base, ours, theirs, settings.manifest_policy)
            if key not in _MERGED:  # a batch's locks often reach the same package
                _MERGED[key] = merge_manifest(base, ours, theirs, settings.manifest_policy,
                                              where=rel).text
            text = _MERGED[key]
        result[d] = text
        todo.extend(links(load_toml(text, rel), d, known))
    return result


def _theirs_only(git: Git, commits: Commits,
                 dirs: Collection[str]) -> dict[str, tuple[str, str] | None]:
    """Files under ``dirs`` that only the incoming side changed since the base, which is
    what git's merge takes from it: path -> (mode, blob id) at theirs, None if deleted.
    (A file both sides changed is being merged by git right now: ours' stays.)"""
    base_rev, ours_rev, theirs_rev = commits
    if base_rev is None or not dirs:
        return {}

    under = sorted({d or "." for d in dirs})
    ours = git.changes(base_rev, ours_rev, under)
    return {p: None if c.new is None else (c.mode, c.new)
            for p, c in git.changes(base_rev, theirs_rev, under).items() if p not in ours}


def _materialize(git: Git, tree: Path, commits: Commits,
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


def merge_pyproject(path: str, sides: tuple[bytes, bytes, bytes], policy: ManifestPolicy
                    ) -> tuple[str, list[str]]:
    """A ``pyproject.toml`` from its three sides (base empty when absent): (text, which
    side each clash took and why)."""
    from lockfix.manifest import merge_manifest

    base, ours, theirs = (side.decode("utf-8") for side in sides)
    merged = merge_manifest(base if base.strip() else None, ours, theirs, policy, where=path)
    return merged.text, [clash.note() for clash in merged.clashes]


def merge_lock(git: Git, path: str, sides: tuple[bytes, bytes, bytes], commits: Commits,
               how: str, settings: Settings, relock: Relock, tree: Path) -> tuple[str, str]:
    """The regenerated lock at ``path`` from its three sides (base empty when absent):
    (text, how it was made). ``tree`` is the private directory to relock in; it is
    removed afterwards, whatever happens."""
    from lockfix.toml import load_toml

    backend, tool = relock.backend, relock.tool
    base_bytes, ours_bytes, theirs_bytes = sides
    _, ours_rev, theirs_rev = commits
    pkg = posixpath.dirname(path)
    manifests = _merged_manifests(git, commits, pkg, settings)
    data = {d: load_toml(text, posixpath.join(d, PYPROJECT) if d else PYPROJECT)
            for d, text in manifests.items()}
    _build_gate(git, ours_rev, theirs_rev, data, relock)
    preferred = backend.merge_locks(
        base_bytes.decode("utf-8") or None,
        ours_bytes.decode("utf-8"),
        theirs_bytes.decode("utf-8"),
        settings.lock_policy,
        where=path,
        manifest=data[pkg],
    )
    debug(f"{path}: manifests and preferred lock merged")
    shutil.rmtree(tree, ignore_errors=True)
    try:
        _materialize(git, tree, commits, manifests)
        debug(f"{path}: private tree written")
        lock_path = tree / pkg / backend.lockfile
        if tool.reads(preferred.lock_version):
            lock_path.write_text(preferred.text, encoding="utf-8")
        relock.session.relock(tree / pkg, timeout=settings.timeout)
        text = lock_path.read_text(encoding="utf-8")
        debug(f"{path}: relocked ({'one started tool' if relock.session.preloaded else 'plain process'})")
        judged = backend.freshness(text, pkg, data, root=tree)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    if not judged.fresh:
        raise LockfixError(f"{tool.label}'s lock does not match the merged manifests: "
                           + "; ".join(judged.reasons))
    return text, f"{how}, {tool.label}"


def _build_gate(git: Git, ours_rev: str, theirs_rev: str,
                manifests: Mapping[str, Mapping[str, object]], relock: Relock) -> None:
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
        debug(f"build code may run ({source})")
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
