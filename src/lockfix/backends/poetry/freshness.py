"""Poetry's ``content-hash``: the single place that knows how each Poetry computes it.

The hash decides whether Poetry calls a lock fresh (``poetry check --lock``), so lockfix
must compute exactly what Poetry computes. The rules (``Locker._get_content_hash`` in
``poetry/packages/locker.py``) changed twice:

* Poetry 1.x hashes only ``[tool.poetry]``: the keys ``dependencies``, ``source``,
  ``extras``, ``dev-dependencies`` (present as ``null`` when missing) and, since 1.2,
  ``group`` (left out when missing).
* Poetry 2.0 also hashes ``[project]`` ``requires-python``, ``dependencies`` and
  ``optional-dependencies``; when any of them is set the ``[tool.poetry]`` part moves under
  ``{"tool": {"poetry": ...}}`` and missing legacy keys are no longer written as ``null``.
* Poetry 2.3 adds PEP 735 ``[dependency-groups]``, and accepts a lock written by an older
  Poetry if it matches the hash computed without them.

The digest is sha256 of ``json.dumps(relevant, sort_keys=True)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from packaging.version import InvalidVersion, Version

from lockfix.backends.poetry.lock import LockFile, generator_version
from lockfix.toml import table as _table

__all__ = ["Freshness", "content_hash", "lock_freshness"]

_LEGACY_KEYS = ("dependencies", "source", "extras", "dev-dependencies")
_PROJECT_KEYS = ("requires-python", "dependencies", "optional-dependencies")
# Reader assumed for locks of Poetry 2.x and for locks that do not say who wrote them.
_CURRENT = (2, 3)
_GROUPS_HASHED_SINCE = Version("2.3.0")


def _plain(value: Any) -> Any:
    """Plain JSON-able data: tomlkit items (which wrap bools and tables) become what
    ``tomllib`` would have produced, so the hash does not depend on the parser used."""
    unwrap = getattr(value, "unwrap", None)
    if callable(unwrap):
        value = unwrap()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def _relevant(
    pyproject: Mapping[str, Any], poetry_version: tuple[int, ...], *, with_groups: bool
) -> Any:
    tool_poetry = _table(pyproject, "tool", "poetry")
    keys = (*_LEGACY_KEYS, "group") if poetry_version >= (1, 2) else _LEGACY_KEYS
    if poetry_version < (2,):
        return {
            key: tool_poetry.get(key)
            for key in keys
            if tool_poetry.get(key) is not None or key in _LEGACY_KEYS
        }

    project = _table(pyproject, "project")
    project_part = {k: project[k] for k in _PROJECT_KEYS if project.get(k) is not None}
    groups: Any = pyproject.get("dependency-groups") if with_groups else None
    groups = groups or {}  # Poetry: `.get("dependency-groups", {})`, used only if truthy
    poetry_part: dict[str, Any] = {}
    for key in keys:
        value = tool_poetry.get(key)
        if value is None and (key not in _LEGACY_KEYS or project_part or groups):
            continue
        poetry_part[key] = value
    if not project_part and not groups:
        return poetry_part  # the 1.x layout, so old locks of classic projects stay fresh
    relevant: dict[str, Any] = {}
    if project_part:
        relevant["project"] = project_part
    if groups:
        relevant["dependency-groups"] = groups
    relevant["tool"] = {"poetry": poetry_part}
    return relevant


def content_hash(pyproject: Mapping[str, Any], poetry_version: tuple[int, ...]) -> str:
    """The ``content-hash`` Poetry ``poetry_version`` writes for this pyproject data.

    Versions after the newest known (2.5) are assumed to keep the 2.3 rules.
    """
    with_groups = poetry_version >= _CURRENT
    relevant = _plain(_relevant(pyproject, poetry_version, with_groups=with_groups))
    return sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Freshness:
    """Whether a lock matches its pyproject, and by which Poetry's rules."""

    fresh: bool
    expected: str
    found: str | None
    rule: str


def _written_by(lock: LockFile) -> tuple[str | None, Version | None]:
    """The version token of the lock's first line and its value, as Poetry parses it."""
    token = generator_version(lock.header)
    if token is None:
        return None, None
    try:
        return token, Version(token)
    except InvalidVersion:
        return token, None


def lock_freshness(pyproject: Mapping[str, Any], lock: LockFile) -> Freshness:
    """Judge ``lock`` the way the Poetry that wrote it (per its header) would.

    A lock of Poetry 1.x is judged by 1.x rules, one of 2.x by the rules of Poetry 2.3+
    (the reader a 2.x team has), including 2.3's leniency for locks written before
    2.3.0: a mismatch is retried without ``[dependency-groups]``. Without a readable
    version in the header, 2.x rules apply but a 1.x-rules match is accepted too.
    """
    found = lock.content_hash
    token, written = _written_by(lock)
    if written is not None and written.release[:1] < (2,):
        expected = content_hash(pyproject, written.release)
        return Freshness(
            expected == found, expected, found, f"Poetry 1.x rules (lock written by Poetry {token})"
        )

    expected = content_hash(pyproject, _CURRENT)
    if written is None:
        rule = "Poetry 2.x rules (no Poetry version in the lock header)"
        if expected != found:
            # Headers without a version come from Poetry 1.x (before 1.4), whose rules
            # differ from 2.x only for [project] / [dependency-groups] content; 1.0 and
            # 1.1 also ignored [tool.poetry.group].
            for legacy_version in ((1, 8),):
                legacy = content_hash(pyproject, legacy_version)
                if legacy == found:
                    return Freshness(
                        True,
                        legacy,
                        found,
                        "Poetry 1.x rules (no Poetry version in the lock header: "
                        "2.x rules did not match, 1.x rules did)",
                    )
            rule += "; 1.x rules did not match either"
        return Freshness(expected == found, expected, found, rule)

    rule = f"Poetry 2.x rules (lock written by Poetry {token})"
    if expected != found and written < _GROUPS_HASHED_SINCE:
        older = content_hash(pyproject, (2, 0))
        if older != expected:
            rule = (
                f"Poetry 2.x rules (lock written by Poetry {token}, before 2.3.0: "
                "also compared without [dependency-groups])"
            )
        if older == found:
            return Freshness(True, older, found, rule)
    return Freshness(expected == found, expected, found, rule)
