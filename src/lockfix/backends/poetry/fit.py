"""Would Poetry take a locked entry as it is? The test behind ``lock-policy = "higher-or-drop"``.

When both sides locked a package differently, the merge can hand Poetry one side's entry
instead of dropping the name. Poetry takes a locked package without looking anything up
when ``package.satisfies(dependency)`` holds for what asks for it (``Provider.get_locked``):
the name, the version within the constraint, and for a git or URL dependency the same
source (url, branch / tag / rev, subdirectory). This module asks exactly that question with
poetry-core, the library Poetry itself answers it with, of the merged ``pyproject.toml``
and of the requirements the other locked entries record. poetry-core takes ~0.3 s to
import, so the lock merge imports this module only when a clash needs it.

Every answer is ``True`` (Poetry keeps it), ``False`` (it would not) or ``None`` (lockfix
cannot tell: a path dependency, a spec poetry-core cannot read); the merge keeps an entry
only on ``True``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Optional

from lockfix.backends.base import canonical_name
from lockfix.toml import table as _tables

if TYPE_CHECKING:
    from poetry.core.packages.dependency import Dependency

#: One requirement on a name, or None where lockfix cannot read it (never "fits").
Requirement = Optional["Dependency"]

_PEP508_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_LOCAL_SOURCES = ("directory", "file")  # urls relative to the lock: not judged here


def _poetry_dependency(name: str, spec: Any) -> Requirement:
    """A ``[tool.poetry.*dependencies]`` value (or a lock's ``[package.dependencies]``
    one) as poetry-core reads it; None for a path dependency or anything unreadable."""
    from poetry.core.factory import Factory

    if isinstance(spec, Mapping) and "path" in spec:
        return None
    try:
        return Factory.create_dependency(name, spec)
    except Exception:  # a spec Poetry would refuse: no verdict, no crash
        return None


def _pep508_dependency(requirement: str) -> Requirement:
    from poetry.core.packages.dependency import Dependency

    try:
        return Dependency.create_from_pep_508(requirement)
    except Exception:
        return None


def manifest_requirements(
    manifest: Mapping[str, Any], names: set[str]
) -> dict[str, list[Requirement]]:
    """Every requirement the manifest puts on each of ``names`` (canonical), in any group:
    ``[tool.poetry]`` dependencies, dev-dependencies and groups, PEP 621 dependencies and
    optional dependencies, PEP 735 dependency groups. All of them must hold."""
    found: dict[str, list[Requirement]] = {}
    poetry = _tables(manifest, "tool", "poetry")
    tables = [_tables(poetry, "dependencies"), _tables(poetry, "dev-dependencies")]
    tables += [_tables(g, "dependencies") for g in _tables(poetry, "group").values()
               if isinstance(g, Mapping)]
    for table in tables:
        for name, spec in table.items():
            key = canonical_name(name)
            if key == "python" or key not in names:
                continue
            for one in spec if isinstance(spec, list) else [spec]:
                found.setdefault(key, []).append(_poetry_dependency(name, one))
    strings: list[Any] = []
    project = _tables(manifest, "project")
    strings += project.get("dependencies") or []
    for extra in _tables(project, "optional-dependencies").values():
        strings += extra if isinstance(extra, list) else []
    for group in _tables(manifest, "dependency-groups").values():
        strings += group if isinstance(group, list) else []
    for requirement in strings:
        if not isinstance(requirement, str):
            continue  # {include-group = ...}: its strings are listed under their own group
        m = _PEP508_NAME.match(requirement)
        if m is not None and canonical_name(m.group(1)) in names:
            found.setdefault(canonical_name(m.group(1)), []).append(_pep508_dependency(requirement))
    return found


def requirements_on(
    entries: Iterable[Mapping[str, Any]], names: set[str]
) -> dict[str, list[Requirement]]:
    """What the locked ``entries`` require of each of ``names`` (their recorded
    ``[package.dependencies]``), markers aside: a requirement for another platform is
    treated as one for every platform, which can only make the merge drop more."""
    found: dict[str, list[Requirement]] = {}
    for entry in entries:
        table = entry.get("dependencies")
        if not isinstance(table, Mapping):
            continue
        own = canonical_name(str(entry.get("name", "")))
        for name, spec in table.items():
            key = canonical_name(name)
            if key not in names or key == own:
                continue
            for one in spec if isinstance(spec, list) else [spec]:
                found.setdefault(key, []).append(_poetry_dependency(name, one))
    return found


def is_direct_origin(requirements: Sequence[Requirement]) -> bool:
    """Whether the manifest asks for the name from a git repository or a URL."""
    return any(
        r is not None and r.is_direct_origin() and r.source_type not in _LOCAL_SOURCES
        for r in requirements
    )


def _same_url(a: str | None, b: str | None) -> bool:
    """poetry-core 2 spells ``file:///x`` as ``file://None/x`` (and writes that into 2.x
    locks); Poetry 1.8 writes ``file:///x``. One repository either way."""
    def norm(url: str | None) -> str | None:
        return None if url is None else re.sub(r"^file://None/", "file:///", url).rstrip("/")

    return norm(a) == norm(b)


def _entry_fits(entry: Mapping[str, Any], requirement: Dependency) -> bool | None:
    from poetry.core.packages.package import Package

    source = entry.get("source")
    src: Mapping[str, Any] = source if isinstance(source, Mapping) else {}
    source_type = src.get("type")
    if source_type in _LOCAL_SOURCES:
        return None
    url = src.get("url")
    if url is not None and _same_url(url, requirement.source_url):
        url = requirement.source_url
    try:
        package = Package(
            str(entry["name"]),
            str(entry["version"]),
            source_type=source_type,
            source_url=url,
            source_reference=src.get("reference"),
            source_resolved_reference=src.get("resolved_reference"),
            source_subdirectory=src.get("subdirectory"),
        )
        return bool(package.satisfies(requirement))
    except Exception:  # an unparsable version: Poetry would not take it either way
        return None


def group_fits(
    group: Sequence[Mapping[str, Any]] | None, requirements: Sequence[Requirement]
) -> bool | None:
    """Whether Poetry would take one side's entries of a name as they are: every
    requirement is met by one of them (several entries of one name split by markers
    meet different requirements). A removed name (None) never fits."""
    if group is None:
        return False
    verdict: bool | None = True
    for requirement in requirements:
        if requirement is None:
            return None
        answers = [_entry_fits(entry, requirement) for entry in group]
        if True in answers:
            continue
        if None in answers:
            verdict = None
        else:
            return False
    return verdict
