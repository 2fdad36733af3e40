"""How Poetry projects link to each other: path dependencies.

Poetry has no workspaces, so a monorepo is directories that point at each other with
``{ path = "../core", develop = true }`` in any dependency table, or with PEP 508
``name @ file:...`` strings in ``[project]`` / ``[dependency-groups]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lockfix.workspace import normalize_links, pep508_paths


def _dependency_tables(data: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    poetry = data.get("tool", {}).get("poetry", {})
    if not isinstance(poetry, Mapping):
        return
    for key in ("dependencies", "dev-dependencies"):
        table = poetry.get(key)
        if isinstance(table, Mapping):
            yield table
    groups = poetry.get("group", {})
    if isinstance(groups, Mapping):
        for group in groups.values():
            table = group.get("dependencies") if isinstance(group, Mapping) else None
            if isinstance(table, Mapping):
                yield table


def path_dependencies(data: Mapping[str, Any], package_dir: str) -> list[str]:
    """Directories (repository-relative, normalized) this Poetry project depends on by path.

    Covers Poetry tables in main, legacy dev and group dependencies, and PEP 508 file URLs.
    Archives, absolute paths and paths leaving the repository are not our packages.
    """
    raw: list[str] = []
    for table in _dependency_tables(data):
        for spec in table.values():
            specs = spec if isinstance(spec, list) else [spec]
            raw.extend(
                s["path"] for s in specs if isinstance(s, Mapping) and isinstance(s.get("path"), str)
            )
    raw.extend(pep508_paths(data))
    return normalize_links(raw, package_dir)
