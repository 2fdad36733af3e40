"""Finding uv and relocking with it: the single source of truth for how lockfix calls uv.

``uv lock`` keeps every locked version that still satisfies the project and moves one
only when asked (``--upgrade``, ``--upgrade-package``), so relocking from a preferred lock
is plain ``uv lock``. Whatever the project configures for uv (indexes, ``exclude-newer``,
``required-version``) is uv's to read: lockfix adds no flag that overrides it. uv is a
native binary that starts in milliseconds, so there is no shared start as for Poetry.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lockfix.backends import DEFAULT_TIMEOUT, LockRun
from lockfix.backends.base import indent, kill_group, tail
from lockfix.errors import ToolError

_VERSION_RE = re.compile(r"uv (\d+)\.(\d+)\.(\d+)")


def relock_args(no_build: Sequence[str] = ()) -> list[str]:
    """``uv lock``: never ``--upgrade``; the preferred lock decides what stays.

    ``no_build`` names path packages uv must not build (``--no-build-package``): the merge
    driver's enforcement of :mod:`lockfix.buildsafety` (uv refuses instead of running
    build code it was not allowed to; uv 0.5 ignores it for editable path packages, where
    the driver's own check is the gate)."""
    return ["lock", *(arg for name in no_build for arg in ("--no-build-package", name))]


@dataclass(frozen=True)
class Uv:
    executable: Path
    version: tuple[int, ...]

    #: uv is native and multi-threaded, and mostly waits on the index: two per core
    #: (measured: 8 per-package relocks on 2 cores, 2 at once 1.42x the sequential loop,
    #: 4 at once 1.65x; benchmarks/README.md)
    relocks_per_core = 2

    @property
    def label(self) -> str:
        return "uv " + ".".join(map(str, self.version))

    def argv(self, no_build: Sequence[str] = ()) -> list[str]:
        return [str(self.executable), *relock_args(no_build)]

    def reads(self, lock_version: str | None) -> bool:
        """uv reads every lock of format ``version = 1`` (whatever its ``revision``)."""
        major = (lock_version or "1").split(".", 1)[0]
        return major == "1"

    def relock(self, project_dir: Path, *, timeout: float = DEFAULT_TIMEOUT,
               env: Mapping[str, str] | None = None, no_build: Sequence[str] = ()) -> LockRun:
        """``uv lock`` in ``project_dir``, in its own process group so that a timeout or
        Ctrl-C ends uv and everything it started (a build backend, git)."""
        started = time.monotonic()
        proc = subprocess.Popen(
            self.argv(no_build),
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
        except BaseException:
            kill_group(proc.pid)
            proc.communicate()
            if sys.exc_info()[0] is subprocess.TimeoutExpired:
                raise ToolError(
                    f"{self.label} did not finish locking {project_dir} within {timeout:g} s",
                    hint="check network access to your package index, or raise --timeout",
                ) from None
            raise
        if proc.returncode != 0:
            raise ToolError(
                f"{self.label} could not lock {project_dir}:\n" + indent(tail(output)),
                hint="fix the constraints, then run `uv lock` there",
            )
        return LockRun(time.monotonic() - started, output)

    def session(self, env: Mapping[str, str] | None = None) -> UvSession:
        return UvSession(self, dict(env if env is not None else os.environ))


@dataclass
class UvSession:
    """Relocks for one command, each a plain ``uv lock`` process."""

    uv: Uv
    env: dict[str, str]
    no_build: tuple[str, ...] = ()
    preloaded = False

    can_forbid_builds = True

    def forbid_builds(self, names: Sequence[str]) -> None:
        """From now on, uv may not build these path packages (see :func:`relock_args`)."""
        self.no_build = tuple(names)

    def relock(self, project_dir: Path, *, timeout: float = DEFAULT_TIMEOUT) -> LockRun:
        return self.uv.relock(project_dir, timeout=timeout, env=self.env, no_build=self.no_build)

    def __enter__(self) -> UvSession:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@lru_cache(maxsize=8)
def _read_version(executable: str) -> tuple[int, ...]:
    try:
        proc = subprocess.run([executable, "--version"], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"could not run {executable}: {exc}") from None
    m = _VERSION_RE.search(proc.stdout)
    if proc.returncode != 0 or m is None:
        raise ToolError(f"{executable} --version did not report a uv version: "
                        f"{(proc.stdout + proc.stderr).strip()[:200]}")
    return tuple(int(g) for g in m.groups())


def find_uv(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Uv:
    """The uv to use: ``explicit`` (``--uv``), else ``$LOCKFIX_UV``, else PATH."""
    env = os.environ if env is None else env
    wanted = explicit or env.get("LOCKFIX_UV")
    found = shutil.which(wanted or "uv", path=env.get("PATH"))
    if wanted and found is None and Path(wanted).is_file():
        found = str(Path(wanted).resolve())
    if found is None:
        where = f"'{wanted}'" if wanted else "'uv' on PATH"
        raise ToolError(f"uv not found ({where})",
                        hint="install uv (pipx install uv) or point LOCKFIX_UV at it")
    found = str(Path(found).absolute())  # relocks run in other directories
    return Uv(Path(found), _read_version(found))
