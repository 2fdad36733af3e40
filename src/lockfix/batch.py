"""One merge's relocks, shared by its driver calls: the side every driver call runs.

git runs the driver once per conflicted file, one after another, and waits for each. In
a monorepo one merge conflicts in many locks, and relocking them one call at a time
costs a tool start and a wait per lock. So the first lock call of a merge that conflicts
in several locks starts a **worker** (:mod:`lockfix.batchworker`) that computes every
routed file of that merge at once (the locks with one tool start, independent relocks in
parallel; the ``pyproject.toml`` merges on the way), each exactly as its own driver call
would, and every later call of the merge takes its result from the worker.

This module is what a call runs before anything else, so it imports only the standard
library's lightest modules and never starts git: most calls of a shared merge end here
in a few tens of milliseconds. A call takes a result only when it was computed from
exactly its inputs:

* **its own three sides**: a job is keyed by the path and the blob ids of the three files
  git handed over;
* **the settings**: the driver's flags, the repository's ``pyproject.toml`` (lockfix's
  ``[tool.lockfix]``), the whole environment (tool, index, ``GITHEAD_*``) and which lockfix
  runs (:func:`context_id`);
* **for a lock, every other manifest it reaches**: those come from the commits being
  merged, so the call must be part of the very merge the worker computed: the same git
  process, the same ``HEAD`` and the same trace of the running operation (rebase todo,
  sequencer, ``git am`` state). One git process runs one merge per ``HEAD`` position:
  a rebase or ``git am`` commits between steps, a criss-cross merge's virtual base merges
  run before the first call can start a batch, and octopus merges (several ``GITHEAD_*``)
  are never shared. git config is read once per merge, as git itself reads it once per
  command.

Anything else (no batch, another merge, a dead worker, any doubt) returns None and the
call computes its result itself, as it always did.
"""

from __future__ import annotations

import marshal
import os
import sys
import time

import lockfix

# Imported where needed: a driver call with no batch to look at pays for os and marshal
# only (hashlib, fcntl); typing itself would cost every call ~15 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

PREFIX = "batch-"
SPEC = "spec"
#: suffix of a job's result file, ``results/<index>.result``
RESULT = ".result"
LOCK = "worker.lock"
STOP = "stop"
RESULTS = "results"
POLL = 0.01
#: the running operation's state files that tell its steps apart (relative to the git dir)
_TRACES = ("rebase-merge/done", "rebase-apply/next", "rebase-apply/original-commit",
           "rebase-apply/applying", "sequencer/todo")


def parse_argv(argv: list[str]) -> tuple[list[str], dict[str, object]]:
    """git's ``%O %A %B %L %P [%S %X %Y]`` and the policy flags, as given."""
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
    return positional, flags


def context_id(flags: Mapping[str, object], root: str) -> str:
    """Everything besides the commits and a file's own sides that a result depends on."""
    import hashlib

    pairs = sorted((k, str(v)) for k, v in flags.items() if v is not None)
    try:
        with open(os.path.join(root, "pyproject.toml"), "rb") as f:
            settings = hashlib.sha256(f.read()).hexdigest()
    except OSError:
        settings = ""
    material = repr((pairs, settings, sorted(os.environ.items()), root,
                     (lockfix.__version__, os.path.dirname(lockfix.__file__), sys.executable)))
    return hashlib.sha256(material.encode("utf-8", "surrogateescape")).hexdigest()


def git_dir(root: str) -> str | None:
    """The git dir of the worktree at ``root``, read from disk (``.git`` or its pointer)."""
    if os.environ.get("GIT_DIR"):
        return os.path.join(root, os.environ["GIT_DIR"])
    dot = os.path.join(root, ".git")
    if os.path.isdir(dot):
        return dot
    try:
        with open(dot, encoding="utf-8") as f:
            line = f.readline().strip()
    except OSError:
        return None
    if not line.startswith("gitdir:"):
        return None
    return os.path.join(root, line[len("gitdir:"):].strip())


def head(gitdir: str) -> str | None:
    """The commit ``HEAD`` names, read from disk (loose or packed ref); None if unsure."""
    try:
        with open(os.path.join(gitdir, "HEAD"), encoding="utf-8") as f:
            value = f.read().strip()
        if not value.startswith("ref: "):
            return value or None
        ref = value[5:]
        common = gitdir
        try:
            with open(os.path.join(gitdir, "commondir"), encoding="utf-8") as f:
                common = os.path.join(gitdir, f.read().strip())
        except OSError:
            pass
        for base in (gitdir, common):
            try:
                with open(os.path.join(base, ref), encoding="utf-8") as f:
                    return f.read().strip() or None
            except OSError:
                pass
        with open(os.path.join(common, "packed-refs"), encoding="utf-8") as f:
            for line in f:
                sha, _, name = line.strip().partition(" ")
                if name == ref:
                    return sha
    except OSError:
        return None
    return None


def trace(gitdir: str) -> str:
    """A digest of the running operation's step files (empty for a plain merge)."""
    import hashlib

    digest = hashlib.sha256()
    for rel in _TRACES:
        try:
            with open(os.path.join(gitdir, rel), "rb") as f:
                digest.update(rel.encode() + b"\0" + f.read() + b"\0")
        except OSError:
            pass
    return digest.hexdigest()


def git_pid() -> int:
    """The git process running this driver: the nearest ancestor named ``git`` (git
    starts drivers through ``sh -c``, and users wrap commands in scripts), else the
    parent."""
    pid = os.getppid()
    for _ in range(8):
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
                stat = f.read()
        except OSError:
            break
        if comm == "git":
            return pid
        pid = int(stat.rpartition(")")[2].split()[1])
        if pid <= 1:
            break
    return os.getppid()


def blob_id(data: bytes, algo: str) -> str:
    """The id git gives a blob holding ``data``."""
    import hashlib

    return hashlib.new(algo, b"blob %d\0" % len(data) + data).hexdigest()


def merge_identity(gitdir: str) -> dict[str, object] | None:
    """What tells this merge apart from every other (see the module docstring)."""
    if sum(k.startswith("GITHEAD_") for k in os.environ) > 1:
        return None  # an octopus merge merges several times from one HEAD
    commit = head(gitdir)
    if commit is None:
        return None
    return {"git_pid": git_pid(), "head": commit, "trace": trace(gitdir)}


def write(path: str, value: Any) -> None:
    """Publish ``value`` at ``path`` atomically (the reader sees all of it or nothing).
    ``marshal``: built into the interpreter, so reading costs a driver call no import;
    writer and reader are the same Python (:func:`context_id` names it)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(marshal.dumps(value))
    os.replace(tmp, path)


def read(path: str) -> object:
    """What :func:`write` published at ``path``; None if absent or unreadable."""
    try:
        with open(path, "rb") as f:
            return marshal.loads(f.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None


def pending(work: str) -> list[str]:
    """The batch directories under ``work`` (``.git/lockfix``), newest first."""
    try:
        names = [n for n in os.listdir(work) if n.startswith(PREFIX)]
    except OSError:
        return []
    paths = [os.path.join(work, n) for n in names]
    try:  # noqa: SIM105 (contextlib would cost every driver call an import)
        paths.sort(key=lambda p: os.stat(p).st_mtime, reverse=True)
    except OSError:
        pass
    return paths


def alive(batch: str) -> bool:
    """Whether the batch's worker still runs (it holds ``worker.lock`` while it lives)."""
    import fcntl

    try:
        fd = os.open(os.path.join(batch, LOCK), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases a lock just taken
    return False


def find(work: str, root: str, path: str, sides: tuple[bytes, bytes, bytes],
         flags: Mapping[str, object]) -> tuple[str, int, dict[str, object]] | None:
    """(batch dir, job index, spec) of the job computed from exactly this call's inputs."""
    batches = pending(work)
    if not batches:
        return None
    context = context_id(flags, root)
    gitdir = os.path.dirname(work)
    identity: dict[str, object] | None = None
    for batch in batches:
        spec = read(os.path.join(batch, SPEC))
        if not isinstance(spec, dict):
            continue
        if spec.get("context") != context:
            continue
        algo = str(spec["algo"])
        key = [path, blob_id(sides[0], algo) if sides[0] else None,
               blob_id(sides[1], algo), blob_id(sides[2], algo)]
        jobs = [j["key"] for j in spec["jobs"]]
        if key not in jobs:
            continue
        index = jobs.index(key)
        if spec["jobs"][index]["kind"] == "lock":
            identity = identity or merge_identity(gitdir)
            if identity is None or identity != spec["identity"]:
                continue
        return batch, index, spec
    return None


def wait(batch: str, index: int) -> dict[str, object] | None:
    """The worker's result for job ``index`` (removed once read: taken); None when the
    worker is gone without it."""
    result = os.path.join(batch, RESULTS, f"{index}{RESULT}")
    checked = time.monotonic()
    while True:
        if os.path.exists(result):
            data = read(result)
            if not isinstance(data, dict):
                return None
            break
        if time.monotonic() - checked > 0.1:
            if not alive(batch) and not os.path.exists(result):
                return None
            checked = time.monotonic()
        time.sleep(POLL)
    try:  # noqa: SIM105 (as in pending)
        os.unlink(result)  # taken: the worker ends once every result is
    except OSError:
        pass
    return data


def take(base: str, ours: str, theirs: str, path: str,
         flags: Mapping[str, object]) -> dict[str, object] | None:
    """This driver call's result from a running batch, or None (then the call computes
    it itself). On success (a ``text``) the merged text is already in ``ours`` (``%A``)
    and reported; an ``error`` is the failure the call's own attempt would have met."""
    if os.environ.get("LOCKFIX_DISABLE"):
        return None
    root = os.getcwd()
    gitdir = git_dir(root)
    if gitdir is None:
        return None
    work = os.path.join(gitdir, lockfix.GIT_WORK_DIR)
    try:
        sides: list[bytes] = []
        for name in (base, ours, theirs):
            with open(name, "rb") as f:
                sides.append(f.read())
    except OSError:
        return None
    found = find(work, root, path, (sides[0], sides[1], sides[2]), flags)
    if found is None:
        return None
    directory, index, spec = found
    started = time.monotonic()
    data = wait(directory, index)
    if data is None:
        _discard(work, directory)
    if data is None or "text" not in data:
        return data
    with open(ours, "w", encoding="utf-8") as f:
        f.write(str(data["text"]))
    for note in data.get("notes") or ():  # type: ignore[attr-defined]
        print(f"lockfix: {path}: {note}", file=sys.stderr)
    if "how" in data:
        jobs: list[dict[str, object]] = spec["jobs"]  # type: ignore[assignment]
        others = sum(j["kind"] == "lock" for j in jobs) - 1
        print(f"lockfix: {path}: regenerated ({data['how']}, relocked with {others} other "
              f"lock(s) of this merge, {time.monotonic() - started:.1f}s)", file=sys.stderr)
    return data


def _discard(work: str, directory: str) -> None:
    """Remove what a worker that died (SIGKILL, OOM) left: its directory and, when no
    other worker runs, the private trees it was relocking in."""
    import shutil

    if alive(directory):
        return
    shutil.rmtree(directory, ignore_errors=True)
    if not any(alive(b) for b in pending(work)):
        shutil.rmtree(os.path.join(work, "trees"), ignore_errors=True)


def take_argv(argv: list[str]) -> dict[str, object] | None:
    """:func:`take` for the driver's command line (``python -m lockfix merge-driver``)."""
    positional, flags = parse_argv(argv)
    if len(positional) < 5:
        return None
    return take(positional[0], positional[1], positional[2], positional[4], flags)
