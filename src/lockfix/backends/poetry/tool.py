"""The Poetry backend: find the executable and regenerate a lock without upgrading.

This module is the single source of truth for how lockfix calls Poetry (which flag keeps
locked versions on which Poetry line), so the commands never build Poetry arguments.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from lockfix.backends import DEFAULT_TIMEOUT, LockRun
from lockfix.backends.base import indent as _indent
from lockfix.backends.base import kill_group as _kill_group
from lockfix.backends.base import tail as _tail
from lockfix.errors import PoetryError

_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def relock_args(version: tuple[int, ...]) -> list[str]:
    """Arguments that re-solve the lock while keeping every locked version possible.

    Poetry 1.x needs ``--no-update`` (without it, ``lock`` upgrades everything); Poetry
    2.0 removed the flag because keeping locked versions became the default.
    """
    base = ["lock", "--no-update"] if version[0] < 2 else ["lock"]
    return [*base, "--no-interaction", "--no-ansi"]


@dataclass(frozen=True)
class Poetry:
    executable: Path
    version: tuple[int, ...]
    #: the Python of Poetry's own environment, when ``executable`` is its standard entry
    #: point script; lets :class:`PoetrySession` start Poetry once for many relocks
    interpreter: Path | None = None

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))

    #: one Python process per core (benchmarks/README.md: lockfix run vs the loop)
    relocks_per_core = 1

    @property
    def label(self) -> str:
        return f"Poetry {self.version_text}"

    def reads(self, lock_version: str | None) -> bool:
        from lockfix.backends.poetry.lock import lock_is_parseable_by

        return lock_is_parseable_by(lock_version, self.version)

    def argv(self) -> list[str]:
        return [str(self.executable), *relock_args(self.version)]

    def relock(
        self,
        project_dir: Path,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> LockRun:
        """Run the relock in ``project_dir``; raise PoetryError with Poetry's own words.

        The child runs in its own process group so that a timeout kills Poetry and
        anything it started, not just the top process.
        """
        started = time.monotonic()
        proc = subprocess.Popen(
            self.argv(),
            cwd=project_dir,
            env=dict(env if env is not None else os.environ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            output, _ = proc.communicate(timeout=timeout)
        except BaseException:  # the timeout, or Ctrl-C: Poetry must not outlive lockfix
            _kill_group(proc.pid)
            proc.communicate()
            if sys.exc_info()[0] is subprocess.TimeoutExpired:
                raise self._timed_out(project_dir, timeout) from None
            raise
        return self._result(project_dir, proc.returncode, output, started)

    def session(self, env: Mapping[str, str] | None = None) -> PoetrySession:
        """Relocks sharing one started Poetry (see :class:`PoetrySession`)."""
        return PoetrySession(self, env)

    def _timed_out(self, project_dir: Path, timeout: float) -> PoetryError:
        return PoetryError(
            f"Poetry {self.version_text} did not finish locking {project_dir} "
            f"within {timeout:g} s",
            hint="check network access to your package index, or raise --timeout",
        )

    def _result(self, project_dir: Path, returncode: int, output: str, started: float) -> LockRun:
        if returncode != 0:
            args = relock_args(self.version)
            raise PoetryError(
                f"Poetry {self.version_text} could not lock {project_dir}:\n"
                + _indent(_tail(output)),
                hint=f"fix the constraints, then run `poetry {' '.join(args[:-2])}` there",
            )
        return LockRun(time.monotonic() - started, output)


SERVER = Path(__file__).with_name("server.py")


@dataclass
class _Pending:
    started: threading.Event = field(default_factory=threading.Event)  # pid is known
    done: threading.Event = field(default_factory=threading.Event)
    pid: int | None = None
    returncode: int | None = None  # None with ``done`` set: the server went away
    output: str = ""


class PoetrySession:
    """Many relocks through one Poetry that is started once (``server.py``).

    Poetry spends ~0.7 s importing itself before each command; the server pays that once,
    while lockfix is still planning, and forks a child per relock that runs Poetry's own
    entry point with :func:`relock_args`. Where that cannot work (Poetry installed behind a
    wrapper script, a server that fails to start, ``LOCKFIX_POETRY_SERVER=0``, systems
    other than Linux unless ``LOCKFIX_POETRY_SERVER=1``), each relock is a separate
    ``poetry lock`` process, as before. Results are the same either way.
    """

    def __init__(self, poetry: Poetry, env: Mapping[str, str] | None = None) -> None:
        self.poetry = poetry
        self.env = dict(env if env is not None else os.environ)
        self._proc: subprocess.Popen[bytes] | None = None
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._ids = 0
        self._gone = False
        # On by default where it is tested (Linux); macOS forbids some frameworks from
        # being used across fork(), so there it is opt-in (LOCKFIX_POETRY_SERVER=1).
        default = "1" if sys.platform.startswith("linux") else "0"
        if poetry.interpreter is None or self.env.get("LOCKFIX_POETRY_SERVER", default) != "1":
            return
        try:
            self._proc = subprocess.Popen(
                [str(poetry.interpreter), str(SERVER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,  # Ctrl-C reaches lockfix, which stops Poetry itself
            )
        except OSError:
            return
        threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True).start()

    @property
    def preloaded(self) -> bool:
        return self._proc is not None and not self._gone

    #: Poetry has no flag that refuses to build a path dependency: the driver's prediction
    #: (lockfix.buildsafety) is the only gate
    can_forbid_builds = False

    def forbid_builds(self, names: Sequence[str]) -> None:
        raise NotImplementedError("Poetry cannot be told not to build a package")

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            try:
                message: dict[str, Any] = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                pending = self._pending.get(message.get("id", -1))
            if pending is None:
                continue
            if "pid" in message:
                pending.pid = int(message["pid"])
                pending.started.set()
            if "rc" in message:
                pending.returncode = int(message["rc"])
                pending.output = str(message.get("output", ""))
                pending.done.set()
        with self._lock:
            self._gone = True
            for pending in self._pending.values():
                pending.started.set()
                pending.done.set()

    def relock(self, project_dir: Path, *, timeout: float = DEFAULT_TIMEOUT) -> LockRun:
        """Same contract as :meth:`Poetry.relock`; safe to call from several threads."""
        started = time.monotonic()
        pending = self._submit(project_dir)
        if pending is None:
            return self.poetry.relock(project_dir, timeout=timeout, env=self.env)
        try:
            finished = pending.done.wait(timeout)
        except BaseException:
            self._stop(pending)
            raise
        if not finished:
            self._stop(pending)
            raise self.poetry._timed_out(project_dir, timeout)
        if pending.returncode is None:  # the server died under us: do it the plain way
            self._stop(pending)
            left = timeout - (time.monotonic() - started)
            return self.poetry.relock(project_dir, timeout=max(left, 1.0), env=self.env)
        return self.poetry._result(project_dir, pending.returncode, pending.output, started)

    def _submit(self, project_dir: Path) -> _Pending | None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            return None
        with self._lock:
            if self._gone:
                return None
            self._ids += 1
            pending = self._pending[self._ids] = _Pending()
            request = {"id": self._ids, "cwd": str(project_dir), "argv": self.poetry.argv()}
            try:
                proc.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
                proc.stdin.flush()
            except OSError:
                self._gone = True
                return None
        return pending

    def _stop(self, pending: _Pending) -> None:
        """Kill one relock's process group and wait until the server has seen it end.

        A relock given up before the server got to it (still importing Poetry) must not
        start later and write into a tree lockfix has already restored: wait for its pid,
        and if the server does not answer at all, end the server.
        """
        if not pending.started.wait(30) and self._proc is not None:
            _kill_group(self._proc.pid)
            return
        if pending.pid is not None:
            _kill_group(pending.pid)
            pending.done.wait(10)

    def close(self) -> None:
        """End the server; it kills any relock still running (none, normally)."""
        proc = self._proc
        if proc is None:
            return
        if self._ids == 0:  # never used (nothing to relock): don't wait for its imports
            _kill_group(proc.pid)
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> PoetrySession:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            running = [p for p in self._pending.values() if not p.done.is_set()]
        for pending in running:
            self._stop(pending)
        self.close()


@lru_cache(maxsize=8)
def _read_version(executable: str) -> tuple[int, ...]:
    try:
        proc = subprocess.run(
            [executable, "--version", "--no-ansi"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PoetryError(f"could not run {executable}: {exc}") from None
    m = _VERSION_RE.search(proc.stdout)
    if proc.returncode != 0 or m is None:
        raise PoetryError(
            f"{executable} --version did not report a Poetry version: "
            f"{(proc.stdout + proc.stderr).strip()[:200]}"
        )
    return tuple(int(g) for g in m.groups() if g is not None)


@dataclass(frozen=True)
class _EntryPoint:
    interpreter: Path | None  # None: not Poetry's standard entry script
    version: tuple[int, ...] | None  # from the environment's dist-info


def _entry_point(executable: str) -> _EntryPoint:
    """What the executable's shebang tells without starting Poetry (half a second): the
    interpreter of Poetry's environment and, from its ``poetry-X.Y.Z.dist-info``, the
    version. pipx, the official installer and ``pip install`` all write such a script."""
    none = _EntryPoint(None, None)
    try:
        real = Path(executable).resolve()
        with open(real, "rb") as fh:
            head = fh.read(4096)
        first, _, body = head.partition(b"\n")
        if not first.startswith(b"#!"):
            return none
        interpreter = Path(first[2:].decode().strip().split()[0])
        if not interpreter.name.startswith("python"):  # a wrapper script, not an entry point
            return none
        env = interpreter.parent.parent
        found = sorted(env.glob("lib/python3*/site-packages/poetry-*.dist-info"))
    except (OSError, UnicodeDecodeError, IndexError):
        return none
    versions = []
    for info in found:
        m = re.fullmatch(r"poetry-(\d+)\.(\d+)\.(\d+)[^/]*\.dist-info", info.name)
        if m:
            versions.append(tuple(int(g) for g in m.groups()))
    version = versions[0] if len(versions) == 1 else None
    standard = b"from poetry.console.application import main" in body
    return _EntryPoint(interpreter if standard and version and interpreter.is_file() else None, version)


def _cached_version(executable: str, cache_dir: Path | None) -> tuple[int, ...]:
    """``poetry --version`` costs half a second; the merge driver runs once per file, so
    the answer is kept beside the driver's work tree, keyed by the executable's identity."""
    if cache_dir is None:
        return _read_version(executable)
    real = Path(executable).resolve()
    st = real.stat()
    key = f"{real}\t{st.st_mtime_ns}\t{st.st_size}"
    cache = cache_dir / "poetry-version"
    try:
        stored_key, _, stored = cache.read_text().rpartition("\t")
        if stored_key == key:
            return tuple(int(x) for x in stored.split("."))
    except (OSError, ValueError):
        pass
    version = _read_version(executable)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        cache.write_text(f"{key}\t{'.'.join(map(str, version))}")
    except OSError:
        pass
    return version


def find_poetry(
    explicit: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    cache_dir: Path | None = None,
) -> Poetry:
    """The Poetry to use: ``explicit`` (``--poetry``), else ``$LOCKFIX_POETRY``, else PATH."""
    env = os.environ if env is None else env
    wanted = explicit or env.get("LOCKFIX_POETRY")
    found = shutil.which(wanted, path=env.get("PATH")) if wanted else None
    if wanted and found is None and Path(wanted).is_file():
        found = str(Path(wanted).resolve())
    if not wanted:
        found = shutil.which("poetry", path=env.get("PATH"))
    if found is None:
        where = f"'{wanted}'" if wanted else "'poetry' on PATH"
        raise PoetryError(
            f"Poetry not found ({where})",
            hint="install Poetry (pipx install poetry) or point LOCKFIX_POETRY at it",
        )
    found = str(Path(found).absolute())  # relocks run in other directories (as find_uv)
    entry = _entry_point(found)
    version = entry.version or _cached_version(found, cache_dir)
    if version < (1, 2):
        raise PoetryError(
            f"Poetry {'.'.join(map(str, version))} is too old; lockfix needs Poetry 1.2 or newer",
            hint="pipx upgrade poetry",
        )
    return Poetry(Path(found), version, entry.interpreter)
