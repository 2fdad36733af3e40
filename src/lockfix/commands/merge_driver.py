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
# loads and works (see run_driver); the other imports sit in the functions that need them.
import os
import posixpath
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lockfix import GIT_WORK_DIR, PYPROJECT, batch
from lockfix.backends import BY_LOCKFILE, LOCKFILES
from lockfix.driverjob import Relock, debug, merge_lock, preload
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


def _label(value: str | None, placeholder: str) -> str | None:
    """git < 2.44 passes ``%S``/``%X``/``%Y`` through literally: treat those as absent."""
    return None if value in (None, "", placeholder) else value


def main_from_git(argv: list[str], taken: Mapping[str, object] | None = None) -> int:
    """Parse git's ``%O %A %B %L %P [%S %X %Y]`` (and policy flags) without click.
    ``taken``: what :func:`lockfix.batch.take` already found for this call."""
    positional, flags = batch.parse_argv(argv)
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
    return run_driver(args, flags, taken=taken)


def run_driver(args: DriverArgs, settings_flags: Mapping[str, object] | None = None, *,
               taken: Mapping[str, object] | None = None) -> int:
    """Merge one file for git. ``taken``: this call's result from the merge's shared work
    (:mod:`lockfix.batch`) when the caller already looked: an error to report as this
    call's own, or an internal failure of the worker (then the call works alone)."""
    git = Git(Path.cwd())
    if os.environ.get("LOCKFIX_DISABLE"):  # one command without lockfix: plain git's merge
        return _plain_merge(git, args)[0]
    settled = _settled(git, args, taken)
    if settled is not None:
        return settled
    name = posixpath.basename(args.path)
    backend = BY_LOCKFILE.get(name)
    if backend is None and name != PYPROJECT:
        return _drive(git, args, settings_flags)
    flags = settings_flags or {}
    relock: Relock | None = None
    try:
        work = git.git_dir() / GIT_WORK_DIR
        running = any(batch.alive(b) for b in batch.pending(str(work)))
        if backend is not None:
            # start the tool first (Poetry imports itself on the other core while lockfix
            # works), unless this merge's worker runs: then it is probably not needed
            relock = Relock.start(git, backend, eager=not running)
            if not running:
                preload(backend)
    except LockfixError as exc:
        return _fallback(git, args, exc.message.splitlines()[0], detail=exc.message)
    except Exception as exc:  # as in _drive: a conflict, never a crash
        return _fallback(git, args, f"internal error: {exc!r}")
    shared: str | None = "single" if running else None
    if not running:
        try:
            shared = _first_call(git, args, flags, work)
        except Exception as exc:  # sharing only saves time: never a reason to fail
            debug(f"{args.path}: not shared: {exc!r}")
    if relock is None:
        return _drive(git, args, settings_flags)
    with relock:
        if shared == "started":
            relock.close()  # the worker relocks: leave it the cores
            settled = _settled(git, args, _take(args, flags))
            if settled is not None:
                return settled
        return _drive_lock(git, args, flags, relock, share=shared is None)


def _first_call(git: Git, args: DriverArgs, flags: Mapping[str, object], work: Path
                ) -> str | None:
    """Whether this call starts the merge's shared relocks (no worker runs yet).
    ``"started"``: it did (the worker relocks this call's lock too); ``"single"``: this
    merge does not share (fewer than two locks differ); None: the incoming commit is not
    known cheaply (a single cherry-pick, a stash): a lock call looks again once it has
    identified the merge."""
    theirs = git.incoming_commit(dict(os.environ))
    if theirs is None:
        return None
    locks = sum(p.rpartition("/")[2] in BY_LOCKFILE for p in git.changes("HEAD", theirs))
    if locks < 2:
        return "single"
    from lockfix import batchworker

    sides = (args.base.read_bytes(), args.ours.read_bytes(), args.theirs.read_bytes())
    blobs, (base_rev, ours_rev, theirs_rev, how) = _identify(git, args.path, sides)
    started = batchworker.start(git, work, args.path, blobs, (base_rev, ours_rev, theirs_rev),
                                how, flags)
    return "started" if started else "single"


def _drive(git: Git, args: DriverArgs, settings_flags: Mapping[str, object] | None) -> int:
    """A file that needs no tool: ``pyproject.toml`` merged at the TOML level (anything
    else routed here by mistake gets plain git's merge)."""
    from lockfix.config import load_settings

    try:
        settings = load_settings(Path.cwd()).override(**(settings_flags or {}))
    except LockfixError as exc:
        return _fallback(git, args, f"configuration: {exc.message}")
    try:
        if posixpath.basename(args.path) == PYPROJECT:
            text = _merge_pyproject(args, settings)
            args.ours.write_text(text, encoding="utf-8")
            debug(f"{args.path}: merged at the TOML level")
            return 0
        return _fallback(git, args, f"lockfix only handles {PYPROJECT} and {', '.join(LOCKFILES)}")
    except LockfixError as exc:
        return _fallback(git, args, exc.message.splitlines()[0], detail=exc.message)
    except Exception as exc:  # never leave git with a crash instead of a conflict
        return _fallback(git, args, f"internal error: {exc!r}")


def _drive_lock(git: Git, args: DriverArgs, flags: Mapping[str, object], relock: Relock, *,
                share: bool = True) -> int:
    """Regenerate the lock: taken from the merge's shared relocks when they hold exactly
    this call's result (:mod:`lockfix.batch`), else computed here."""
    from lockfix.config import load_settings

    started = time.monotonic()
    try:
        sides = (args.base.read_bytes(), args.ours.read_bytes(), args.theirs.read_bytes())
        blobs, (base_rev, ours_rev, theirs_rev, how) = _identify(git, args.path, sides)
        commits = (base_rev, ours_rev, theirs_rev)
        if share:
            settled = _settled(git, args, _share(git, args, blobs, commits, how, flags, relock))
            if settled is not None:
                return settled
        try:
            settings = load_settings(Path.cwd()).override(**flags)
        except LockfixError as exc:
            return _fallback(git, args, f"configuration: {exc.message}")
        text, how = merge_lock(git, args.path, sides, commits, how, settings, relock,
                               relock.work / "tree")
        args.ours.write_text(text, encoding="utf-8")
    except LockfixError as exc:
        return _fallback(git, args, exc.message.splitlines()[0], detail=exc.message)
    except Exception as exc:  # never leave git with a crash instead of a conflict
        return _fallback(git, args, f"internal error: {exc!r}")
    print(f"lockfix: {args.path}: regenerated ({how}, {time.monotonic() - started:.1f}s)",
          file=sys.stderr)
    return 0


def _share(git: Git, args: DriverArgs, blobs: tuple[str | None, str, str],
           commits: tuple[str | None, str, str], how: str, flags: Mapping[str, object],
           relock: Relock) -> Mapping[str, object] | None:
    """Start the merge's shared relocks when this is its first lock call and it conflicts
    in several locks, then take this call's result from them; None: work alone."""
    from lockfix import batchworker

    try:
        if not batchworker.start(git, relock.work, args.path, blobs, commits, how, flags):
            return None
        relock.close()  # the worker relocks: leave it the cores
        return _take(args, flags)
    except Exception as exc:  # sharing only saves time: never a reason to fail
        debug(f"{args.path}: not shared: {exc!r}")
        return None


def _take(args: DriverArgs, flags: Mapping[str, object]) -> Mapping[str, object] | None:
    return batch.take(str(args.base), str(args.ours), str(args.theirs), args.path, flags)


def _settled(git: Git, args: DriverArgs, taken: Mapping[str, object] | None) -> int | None:
    """git's exit status when the merge's shared work settled this call: its result
    (already written into %A and reported by :func:`lockfix.batch.take`), or the failure
    this call's own attempt would have met; None: the call works alone."""
    if taken is None:
        return None
    if "text" in taken:
        return 0
    if "error" in taken:
        reason = str(taken["error"])
        return _fallback(git, args, reason.splitlines()[0], detail=reason)
    return None


def _identify(git: Git, path: str, sides: tuple[bytes, bytes, bytes]
              ) -> tuple[tuple[str | None, str, str], tuple[str | None, str, str, str]]:
    """(blob ids of the three sides, (base, ours, theirs, how) of the merge)."""
    base_bytes, ours_bytes, theirs_bytes = sides
    head_blob = git.object_ids([f"HEAD:{path}"])[0]
    blobs = (git.hash_blob(base_bytes, head_blob) if base_bytes else None,
             git.hash_blob(ours_bytes, head_blob), git.hash_blob(theirs_bytes, head_blob))
    found = git.merging_commits(dict(os.environ), path, *blobs)
    if found is None:
        raise LockfixError("could not tell which commits are being merged")
    debug(f"{path}: {found[3]}: base={found[0]} ours={found[1]} theirs={found[2]}")
    return blobs, found


def _merge_pyproject(args: DriverArgs, settings: Settings) -> str:
    from lockfix.driverjob import merge_pyproject

    text, notes = merge_pyproject(
        args.path, (args.base.read_bytes(), args.ours.read_bytes(), args.theirs.read_bytes()),
        settings.manifest_policy)
    for note in notes:  # which side each clash took, and why
        print(f"lockfix: {args.path}: {note}", file=sys.stderr)
    return text


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
        debug(detail)
    if conflicts == 0 and posixpath.basename(args.path) not in BY_LOCKFILE:
        return 0  # plain git would have merged this text cleanly; so do we
    return 1
