"""What every backend's results look like: the shared vocabulary of lock merging.

Each package manager lockfix supports (``backends/poetry``, ``backends/uv``) parses its
own lock format, but a lock merge reports the same things whatever the format: the
preferred lock to hand to the solver and the packages both sides locked differently.
"""

from __future__ import annotations

import re
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
