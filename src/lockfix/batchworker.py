"""The worker that computes one merge's routed files at once (see :mod:`lockfix.batch`).

The first lock call of a merge that conflicts in at least :data:`MIN_LOCKS` locks
(:func:`start`) lists what git will hand the driver in this merge (:func:`plan_jobs`),
publishes ``.git/lockfix/batch-<id>/spec`` and starts this module's :func:`main` as
a detached process holding ``worker.lock``. The worker merges every ``pyproject.toml``
job, then relocks every lock job in parallel with one started tool per package manager,
each through :func:`lockfix.driverjob.merge_lock` in its own private tree, and writes
each result to ``results/<n>.result`` as soon as it is ready.

It never outlives the git command for long: it stops (relocks killed, directory
removed) when git ends, when a newer merge starts a batch, once every result was taken,
or :data:`LINGER` seconds after its last result.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lockfix
from lockfix import PYPROJECT, batch
from lockfix.backends import BY_LOCKFILE
from lockfix.driverjob import Commits, Relock, debug
from lockfix.errors import LockfixError
from lockfix.git import Change, Git

if TYPE_CHECKING:
    from lockfix.config import Settings

#: a merge conflicting in fewer locks is driven call by call, as always
MIN_LOCKS = 2
#: seconds a finished worker waits for calls to take their results
LINGER = 30.0


@dataclass(frozen=True)
class Job:
    """One file git will hand the driver in this merge: path and blob ids of its sides."""

    path: str
    base: str | None
    ours: str
    theirs: str

    @property
    def kind(self) -> str:
        return "manifest" if self.path.rpartition("/")[2] == PYPROJECT else "lock"

    def key(self) -> list[str | None]:
        return [self.path, self.base, self.ours, self.theirs]


def plan_jobs(git: Git, commits: Commits, attribute: str) -> list[Job]:
    """The files git will run this driver for in this merge, in the order it will
    (reverse path order): manifests and locks changed on both sides to different
    contents, from the same base, and routed to ``attribute``'s driver."""
    base, ours, theirs = commits
    if base is None:
        return []
    names = {PYPROJECT, *BY_LOCKFILE}

    def changed(rev: str) -> dict[str, Change]:
        return {p: c for p, c in git.changes(base, rev).items()
                if p.rpartition("/")[2] in names and c.status in ("A", "M")}

    at_ours, at_theirs = changed(ours), changed(theirs)
    both = sorted((p for p in at_ours if p in at_theirs and at_ours[p].new != at_theirs[p].new
                   and at_ours[p].old == at_theirs[p].old), reverse=True)
    routed = {p for p, value in git.merge_attributes(both).items() if value == attribute}
    return [Job(p, at_ours[p].old, str(at_ours[p].new), str(at_theirs[p].new))
            for p in both if p in routed]


def _attribute(git: Git, path: str) -> str | None:
    value = git.merge_attributes([path]).get(path, "")
    return None if value in ("", "unspecified", "unset", "set") else value


def _retire_others(work: Path, keep: str) -> None:
    """Ask the workers of earlier merges to stop; remove what dead ones left."""
    with contextlib.suppress(OSError):
        for name in os.listdir(work):
            path = work / name
            if name == keep or not name.lstrip(".").startswith(batch.PREFIX):
                continue
            if name.startswith(batch.PREFIX) and batch.alive(str(path)):
                with contextlib.suppress(OSError):
                    (path / batch.STOP).touch()
            elif name.startswith(batch.PREFIX) or time.time() - path.stat().st_mtime > 60:
                shutil.rmtree(path, ignore_errors=True)


def start(git: Git, work: Path, path: str, blobs: tuple[str | None, str, str],
          commits: Commits, how: str, flags: Mapping[str, object]) -> bool:
    """Start the worker for this merge if it conflicts in several locks and this call's
    file is one it will hand the driver: whether it runs. A lock call then waits for its
    result (:func:`lockfix.batch.take`); a manifest call merges its own file."""
    if os.environ.get("LOCKFIX_SHARE") == "0":  # every call on its own, as before
        return False
    root = str(Path.cwd())
    identity = batch.merge_identity(str(work.parent))
    attribute = _attribute(git, path)
    if identity is None or attribute is None or identity["head"] != commits[1]:
        return False
    jobs = plan_jobs(git, commits, attribute)
    keys = [j.key() for j in jobs]
    if sum(j.kind == "lock" for j in jobs) < MIN_LOCKS or [path, *blobs] not in keys:
        return False
    # git has called the driver for the files before this one already (jobs are in its
    # order); this call computes its own manifest itself, its own lock in the batch
    mine = keys.index([path, *blobs])
    jobs = jobs[mine if jobs[mine].kind == "lock" else mine + 1:]
    locks = [j for j in jobs if j.kind == "lock"]
    if not locks:
        return False
    spec = {
        "root": root, "commits": list(commits), "how": how,
        "flags": {k: v for k, v in flags.items() if v is not None},
        "context": batch.context_id(dict(flags), root), "identity": identity,
        "algo": "sha256" if len(commits[1]) == 64 else "sha1",
        "jobs": [{"key": j.key(), "kind": j.kind} for j in jobs],
    }
    name = batch.PREFIX + hashlib.sha256(
        repr((spec["context"], spec["commits"], identity)).encode()).hexdigest()[:20]
    work.mkdir(parents=True, exist_ok=True)
    _retire_others(work, name)
    target = work / name
    if target.exists():
        return False  # a worker for this very merge was started and has failed us
    tmp = work / f".{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / batch.RESULTS).mkdir(parents=True)
    batch.write(str(tmp / batch.SPEC), spec)
    fd = os.open(tmp / batch.LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            os.rename(tmp, target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        package_parent = str(Path(lockfix.__file__).resolve().parents[1])
        bootstrap = (f"import sys; sys.path.insert(0, {package_parent!r}); "
                     "from lockfix.batchworker import main; main(sys.argv[1:])")
        try:
            subprocess.Popen(
                [sys.executable, "-c", bootstrap, str(target)],
                cwd=root, pass_fds=(fd,), start_new_session=True,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                # its debug lines beside the calls' (git's stderr stays open until it ends)
                stderr=None if os.environ.get("LOCKFIX_DEBUG") else subprocess.DEVNULL,
            )
        except OSError:
            shutil.rmtree(target, ignore_errors=True)
            return False
    finally:
        os.close(fd)  # the worker holds the lock now: the same open file
    debug(f"{name}: {len(locks)} locks and {len(jobs) - len(locks)} manifests, worker started")
    return True


class _Worker:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        spec = batch.read(str(directory / batch.SPEC))
        assert isinstance(spec, dict), f"{directory}: no readable spec"
        self.spec: dict[str, Any] = spec
        self.git = Git(self.spec["root"])
        self.jobs = [Job(*j["key"]) for j in self.spec["jobs"]]
        self.stopping = threading.Event()
        self.relocks: list[Relock] = []
        self.guard = threading.Lock()

    def gone(self) -> bool:
        """git ended, a newer batch asked this one to stop, or its directory went."""
        try:
            os.kill(int(self.spec["identity"]["git_pid"]), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        return (self.dir / batch.STOP).exists() or not (self.dir / batch.SPEC).exists()

    def watch(self) -> None:
        while not self.stopping.wait(0.1):
            if self.gone():
                self.abort()
                return

    def abort(self) -> None:
        """Stop every relock now; the jobs' own clean-up removes their trees."""
        self.stopping.set()
        with self.guard:
            relocks, self.relocks = self.relocks, []
        for relock in relocks:
            with contextlib.suppress(Exception):
                relock.close()

    def write(self, index: int, data: Mapping[str, object]) -> None:
        if self.stopping.is_set():
            return
        batch.write(str(self.dir / batch.RESULTS / f"{index}{batch.RESULT}"), dict(data))

    def run(self) -> None:
        debug(f"{self.dir.name}: worker running")
        tools = self._tools()  # first: Poetry imports itself while everything else happens
        debug(f"{self.dir.name}: tools started")
        try:
            self._run(tools)
        finally:
            for relock in tools.values():
                if isinstance(relock, Relock):
                    relock.close()

    def _run(self, tools: Mapping[str, Relock | str]) -> None:
        from lockfix.config import load_settings

        try:
            settings = load_settings(Path(self.spec["root"])).override(**self.spec["flags"])
        except LockfixError as exc:
            for i in range(len(self.jobs)):
                self.write(i, {"error": f"configuration: {exc.message}"})
            return
        commits: Commits = tuple(self.spec["commits"])
        assert commits[0] is not None  # plan_jobs plans nothing without a base
        sides = self.git.read_blobs([f"{rev}:{j.path}" for j in self.jobs for rev in commits])
        for i, job in enumerate(self.jobs):
            if job.kind == "manifest":
                self._manifest(i, job, sides[3 * i: 3 * i + 3], settings)
        locks = [i for i, j in enumerate(self.jobs) if j.kind == "lock"]
        self._locks(locks, sides, commits, settings, tools)

    def _tools(self) -> dict[str, Relock | str]:
        """One started tool per package manager of the lock jobs (or why it failed)."""
        found: dict[str, Relock | str] = {}
        for job in self.jobs:
            backend = BY_LOCKFILE.get(job.path.rpartition("/")[2])
            if backend is None or backend.name in found:
                continue
            try:
                found[backend.name] = Relock.start(self.git, backend)
            except LockfixError as exc:
                found[backend.name] = exc.message
        with self.guard:
            self.relocks.extend(r for r in found.values() if isinstance(r, Relock))
        return found

    def _settle(self, index: int, work: Callable[[], dict[str, object]]) -> None:
        """Publish job ``index``'s result, or its failure: a :class:`LockfixError` is what
        the job's own driver call would have met and reports; anything else makes that
        call work alone."""
        try:
            result = work()
        except LockfixError as exc:
            result = {"error": exc.message}
        except Exception as exc:
            result = {"internal": repr(exc)}
        self.write(index, result)

    @staticmethod
    def _sides(job: Job, sides: Sequence[bytes | None]) -> tuple[bytes, bytes, bytes]:
        base, ours, theirs = sides
        if ours is None or theirs is None:
            raise LockfixError(f"{job.path}: missing from the commits being merged")
        return base or b"", ours, theirs

    def _manifest(self, index: int, job: Job, sides: Sequence[bytes | None], settings: Settings) -> None:
        """Exactly what the driver's ``pyproject.toml`` call computes."""
        from lockfix.driverjob import merge_pyproject

        def merged() -> dict[str, object]:
            text, notes = merge_pyproject(job.path, self._sides(job, sides),
                                          settings.manifest_policy)
            return {"text": text, "notes": notes}

        self._settle(index, merged)

    def _locks(self, indices: list[int], sides: Sequence[bytes | None], commits: Commits,
               settings: Settings, tools: Mapping[str, Relock | str]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from lockfix.commands.run import default_jobs
        from lockfix.driverjob import merge_lock
        from lockfix.privatetree import tree_for

        trees = self.dir.parent / "trees"

        def one(i: int) -> None:
            job = self.jobs[i]
            main = tools[BY_LOCKFILE[job.path.rpartition("/")[2]].name]
            if self.stopping.is_set():
                return
            if isinstance(main, str):
                self.write(i, {"error": main})
                return
            # a session that can be told not to build carries that per relock: its own
            relock = (Relock(main.backend, main.tool, main.env, main.work, eager=False)
                      if main.session.can_forbid_builds else
                      Relock(main.backend, main.tool, main.env, main.work, session=main.session))
            with self.guard:
                self.relocks.append(relock)

            def relocked() -> dict[str, object]:
                text, how = merge_lock(self.git, job.path, self._sides(job, sides[3 * i: 3 * i + 3]),
                                       commits, self.spec["how"], settings, relock,
                                       tree_for(trees, job.path.rpartition("/")[0]))
                debug(f"{job.path}: relocked by the worker")
                return {"text": text, "how": how}

            try:
                self._settle(i, relocked)
            finally:
                relock.close()

        started = [r for r in tools.values() if isinstance(r, Relock)]
        try:
            with ThreadPoolExecutor(max_workers=default_jobs(r.tool for r in started)) as pool:
                list(pool.map(one, indices))
        finally:
            with contextlib.suppress(OSError):
                trees.rmdir()  # only if empty

    def linger(self) -> None:
        """Until every result was taken (or git ended, or :data:`LINGER` seconds)."""
        deadline = time.monotonic() + LINGER
        while time.monotonic() < deadline and not self.stopping.is_set():
            with contextlib.suppress(OSError):
                if not any(n.endswith(batch.RESULT) for n in os.listdir(self.dir / batch.RESULTS)):
                    return
            if self.stopping.wait(0.05):
                return


def main(argv: list[str]) -> None:
    """The worker: ``<batch dir>``; it inherited ``worker.lock``, held until it ends."""
    directory = Path(argv[0])
    worker = _Worker(directory)

    def stop(signum: int, frame: object) -> None:
        worker.abort()
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, stop)
    threading.Thread(target=worker.watch, daemon=True).start()
    try:
        worker.run()
        worker.linger()
    finally:
        worker.stopping.set()
        shutil.rmtree(directory, ignore_errors=True)
    debug(f"{directory.name}: worker done")
