"""Which of two dependency constraints is the newer one, for ``manifest-policy = "newer"``.

When both branches change the same dependency constraint, people keep the one that
starts at the newer version (``ruff = "^0.11.5"`` over ``"^0.11.4"``): one side bumped
past the other. This module tells that from the constraints' own grammar, never from
their spelling: Poetry constraints (``^``, ``~``, ``1.2.*``, ``>=1,<2``, ``||`` unions) with
poetry-core's ``parse_constraint``, PEP 508 strings with packaging's ``Requirement`` and
``SpecifierSet``.

The rule, deliberately narrow: the constraint with the higher lower bound wins, and only
when the two are otherwise the same dependency (same extras, markers, source, python
restriction, URL) and of the same kind (two ranges, or two exact pins). Anything else,
including text that does not parse, is *undecided*: the caller falls back to a side.
A constraint without a lower bound (``*``, ``<2``, ``!=1.5``) counts as the lowest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union

from packaging.version import InvalidVersion, Version

__all__ = ["Spec", "Verdict", "newer", "pep508_spec", "poetry_spec"]

Side = Literal["ours", "theirs"]
# (version, exclusive): ">1.0" starts just above ">=1.0", so exclusive sorts higher
Bound = tuple[Version, bool]


@dataclass(frozen=True)
class Spec:
    """A dependency's version constraint reduced to what decides "newer".

    ``lower`` is None for no lower bound; ``pinned`` for an exact version (``1.2.3``,
    ``==1.2.3``); ``rest`` is everything else that identifies the dependency (extras,
    markers, source, ...), which must be equal for two specs to be compared at all.
    """

    text: str
    lower: Bound | None
    pinned: bool
    rest: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Verdict:
    """``winner`` None = undecided; ``why`` says why either way (for clash notes)."""

    winner: Side | None
    why: str


Parsed = Union[Spec, str]  # a Spec, or why the value has none


def poetry_spec(value: Any) -> Parsed:
    """A Poetry dependency value: ``"^1.2"``, or ``{version = "^1.2", extras = [...]}``."""
    if isinstance(value, str):
        version, rest = value, {}
    elif isinstance(value, Mapping):
        if not isinstance(value.get("version"), str):
            return "no version constraint"
        version = value["version"]
        rest = {str(k): v for k, v in value.items() if k != "version"}
        if isinstance(rest.get("extras"), list):
            rest["extras"] = sorted(map(str, rest["extras"]))
    elif isinstance(value, list):
        return "multiple constraints"
    else:
        return "no version constraint"
    bound = _poetry_bound(version)
    if isinstance(bound, str):
        return bound
    lower, pinned = bound
    return Spec(version.strip(), lower, pinned, _rest(rest))


def pep508_spec(value: Any) -> Parsed:
    """A PEP 508 requirement string (``"ruff[x]>=0.11.5; python_version >= '3.9'"``)."""
    if not isinstance(value, str):
        return "not a requirement string"
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(value)
    except InvalidRequirement:
        return "invalid requirement"
    rest: dict[str, Any] = {}
    if req.extras:
        rest["extras"] = sorted(req.extras)
    if req.marker is not None:
        rest["markers"] = str(req.marker)
    if req.url is not None:
        rest["url"] = req.url
    bound = _pep440_bound(req)
    if isinstance(bound, str):
        return bound
    lower, pinned = bound
    return Spec(value.strip(), lower, pinned, _rest(rest))


def newer(ours: Parsed, theirs: Parsed) -> Verdict:
    """The side whose constraint admits only newer versions, when one clearly does."""
    if isinstance(ours, str) or isinstance(theirs, str):
        problem = ours if isinstance(ours, str) else theirs
        side = "ours" if isinstance(ours, str) else "theirs"
        return Verdict(None, f"{side}: {problem}")
    if ours.rest != theirs.rest:
        keys = sorted({k for k, _ in set(ours.rest) ^ set(theirs.rest)})
        return Verdict(None, f"different {', '.join(keys)}")
    if ours.pinned != theirs.pinned:
        return Verdict(None, "exact pin against a range")
    a, b = _key(ours.lower), _key(theirs.lower)
    if a == b:
        return Verdict(None, "same lower bound")
    if a > b:
        return Verdict("ours", f"newer: {ours.text} > {theirs.text}")
    return Verdict("theirs", f"newer: {theirs.text} > {ours.text}")


# ----------------------------------------------------------------------- internals


def _rest(rest: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Order-insensitive, type-keeping identity of the non-version parts."""
    return tuple(sorted((k, json.dumps(v, sort_keys=True, default=str)) for k, v in rest.items()))


_ZERO = Version("0")


def _key(bound: Bound | None) -> tuple[int, Version | None, bool]:
    """Sort key of a lower bound. ``>=0`` (or lower) admits every version there is, so
    it counts as no bound: ``>=0`` is no newer than ``*`` or ``!=0``."""
    if bound is None or bound[0] < _ZERO or (bound[0] == _ZERO and not bound[1]):
        return (0, None, False)
    return (1, bound[0], bound[1])


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _poetry_bound(text: str) -> tuple[Bound | None, bool] | str:
    """(lower bound, pinned) of a Poetry constraint, or why it has none."""
    from poetry.core.constraints.version import (
        EmptyConstraint,
        VersionRange,
        VersionUnion,
    )
    from poetry.core.constraints.version import (
        Version as PoetryVersion,
    )

    try:
        from poetry.core.constraints.version import parse_constraint

        constraint = parse_constraint(text)
    except Exception:  # poetry-core raises assorted types for nonsense
        return "invalid constraint"
    if isinstance(constraint, EmptyConstraint) or constraint.is_empty():
        return "empty constraint"
    if isinstance(constraint, PoetryVersion):
        version = _version(constraint.text)
        return ((version, False), True) if version is not None else "invalid constraint"
    ranges: list[Any]
    if isinstance(constraint, VersionUnion):
        ranges = list(constraint.ranges)
    elif isinstance(constraint, VersionRange):
        ranges = [constraint]
    else:  # pragma: no cover - poetry-core has no other kinds today
        return "unknown constraint"
    bounds: list[Bound | None] = []
    for part in ranges:
        if isinstance(part, PoetryVersion):
            low = _version(part.text)
            bounds.append(None if low is None else (low, False))
        elif part.min is None:
            bounds.append(None)
        else:
            low = _version(part.min.text)
            bounds.append(None if low is None else (low, not part.include_min))
    # a union starts where its lowest part starts
    return min(bounds, key=_key), False


def _pep440_bound(req: Any) -> tuple[Bound | None, bool] | str:
    """(lower bound, pinned) of a requirement's specifiers (their intersection)."""
    lower: Bound | None = None
    pins: set[Version] = set()
    for spec in req.specifier:
        op, text = spec.operator, spec.version
        if op == "===":
            return "arbitrary equality (===)"
        if op in ("<", "<=", "!="):
            continue
        wildcard = text.endswith(".*")
        version = _version(text[:-2] if wildcard else text)
        if version is None:  # pragma: no cover - SpecifierSet already validated it
            return "invalid constraint"
        if op == "==" and not wildcard:
            pins.add(version)
            continue
        bound: Bound = (version, op == ">")
        if _key(bound) > _key(lower):
            lower = bound
    if len(pins) > 1:
        return "empty constraint"
    if pins:
        return (next(iter(pins)), False), True
    return lower, False
