"""The Poetry backend: find the executable and regenerate a lock without upgrading.

This module is the single source of truth for how lockfix calls Poetry (which flag keeps
locked versions on which Poetry line), so the commands never build Poetry arguments.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lockfix.errors import PoetryError

DEFAULT_TIMEOUT = 600.0
_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def relock_args(version: tuple[int, ...]) -> list[str]:
    """Arguments that re-solve the lock while keeping every locked version possible.

    Poetry 1.x needs ``--no-update`` (without it, ``lock`` upgrades everything); Poetry
    2.0 removed the flag because keeping locked versions became the default.
    """
    base = ["lock", "--no-update"] if version[0] < 2 else ["lock"]
    return [*base, "--no-interaction", "--no-ansi"]


@dataclass(frozen=True)
class LockRun:
    seconds: float
    output: str


@dataclass(frozen=True)
class Poetry:
    executable: Path
    version: tuple[int, ...]

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))

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
        args = [str(self.executable), *relock_args(self.version)]
        started = time.monotonic()
        proc = subprocess.Popen(
            args,
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
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            raise PoetryError(
                f"Poetry {self.version_text} did not finish locking {project_dir} "
                f"within {timeout:g} s",
                hint="check network access to your package index, or raise --timeout",
            ) from None
        seconds = time.monotonic() - started
        if proc.returncode != 0:
            raise PoetryError(
                f"Poetry {self.version_text} could not lock {project_dir}:\n"
                + _indent(_tail(output)),
                hint=f"fix the constraints, then run `{' '.join(args[1:3])}` there",
            )
        return LockRun(seconds, output)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _tail(text: str, lines: int = 15) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:]) or "(Poetry printed nothing)"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


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


def _installed_version(executable: str) -> tuple[int, ...] | None:
    """Poetry's version from its environment's ``poetry-X.Y.Z.dist-info``, without starting
    Poetry (half a second) — the executable's shebang names the environment's Python."""
    try:
        real = Path(executable).resolve()
        with open(real, "rb") as fh:
            first = fh.readline(512)
        if not first.startswith(b"#!"):
            return None
        interpreter = Path(first[2:].decode().strip().split()[0])
        if not interpreter.name.startswith("python"):  # a wrapper script, not an entry point
            return None
        env = interpreter.parent.parent
        found = sorted(env.glob("lib/python3*/site-packages/poetry-*.dist-info"))
    except (OSError, UnicodeDecodeError, IndexError):
        return None
    versions = []
    for info in found:
        m = re.fullmatch(r"poetry-(\d+)\.(\d+)\.(\d+)[^/]*\.dist-info", info.name)
        if m:
            versions.append(tuple(int(g) for g in m.groups()))
    return versions[0] if len(versions) == 1 else None


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
    version = _installed_version(found) or _cached_version(found, cache_dir)
    if version < (1, 2):
        raise PoetryError(
            f"Poetry {'.'.join(map(str, version))} is too old; lockfix needs Poetry 1.2 or newer",
            hint="pipx upgrade poetry",
        )
    return Poetry(Path(found), version)
