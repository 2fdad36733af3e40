"""What every backend's results look like: the shared vocabulary of lock merging.

Each package manager lockfix supports (``backends/poetry``, ``backends/uv``) parses its
own lock format, but a lock merge reports the same things whatever the format: the
preferred lock to hand to the solver and the packages both sides locked differently.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class LockClash:
    """Both sides changed which versions of ``name`` are locked, differently."""

    name: str
    base: tuple[str, ...]
    ours: tuple[str, ...]
    theirs: tuple[str, ...]
    resolution: str  # "dropped" | "ours" | "theirs"


@dataclass(frozen=True)
class LockMerge:
    text: str  # the preferred lock, ready to hand to the solver
    clashes: tuple[LockClash, ...]
    lock_version: str | None = None  # of ``text``: which tool version can read it


def canonical_name(name: str) -> str:
    """PEP 503 normalized name: how Poetry, uv and pip decide two names are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


# -- running a package manager -------------------------------------------------------------


def kill_group(pid: int) -> None:
    """Kill the process group ``pid`` leads; if it has not become a leader yet (a relock
    killed the instant it started), the process itself."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    except PermissionError:
        pass


def tail(text: str, lines: int = 15) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:]) or "(it printed nothing)"


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
