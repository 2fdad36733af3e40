"""How uv projects link to each other: workspace members and path sources.

A uv workspace root (``[tool.uv.workspace] members = ["packages/*"]``, minus ``exclude``)
has one ``uv.lock`` covering every member. Outside workspaces, a project reaches a sibling
with ``[tool.uv.sources] core = { path = "../core", editable = true }`` (or a PEP 508
``core @ file:../core``) and keeps its own lock, which records that sibling's metadata.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Collection, Mapping
from typing import Any

from lockfix.workspace import normalize_links, pep508_paths


def _uv(data: Mapping[str, Any]) -> Mapping[str, Any]:
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, Mapping) else None
    return uv if isinstance(uv, Mapping) else {}


def is_workspace_root(data: Mapping[str, Any]) -> bool:
    return isinstance(_uv(data).get("workspace"), Mapping)


def _glob_match(pattern: str, path: str) -> bool:
    """uv's member globs are path globs: ``*`` stays inside one directory level."""
    pattern = posixpath.normpath(pattern)
    if "**" in pattern:
        return fnmatch.fnmatchcase(path, pattern.replace("**", "*"))
    parts, names = pattern.split("/"), path.split("/")
    return len(parts) == len(names) and all(
        fnmatch.fnmatchcase(n, p) for p, n in zip(parts, names)
    )


def workspace_members(data: Mapping[str, Any], root_dir: str, known: Collection[str]) -> list[str]:
    """Repository-relative directories of the workspace members that ``known`` holds."""
    workspace = _uv(data).get("workspace")
    if not isinstance(workspace, Mapping):
        return []
    members = [m for m in workspace.get("members") or [] if isinstance(m, str)]
    exclude = [m for m in workspace.get("exclude") or [] if isinstance(m, str)]
    prefix = root_dir + "/" if root_dir else ""
    out = []
    for d in sorted(known):
        if d == root_dir or not d.startswith(prefix):
            continue
        rel = d[len(prefix):]
        if any(_glob_match(m, rel) for m in members) and not any(
            _glob_match(x, rel) for x in exclude
        ):
            out.append(d)
    return out


def path_sources(data: Mapping[str, Any]) -> list[str]:
    """Relative paths named by ``[tool.uv.sources]`` entries (one table or a list)."""
    sources = _uv(data).get("sources")
    raw: list[str] = []
    if isinstance(sources, Mapping):
        for spec in sources.values():
            for one in spec if isinstance(spec, list) else [spec]:
                if isinstance(one, Mapping) and isinstance(one.get("path"), str):
                    raw.append(one["path"])
    return raw


def links(data: Mapping[str, Any], package_dir: str, known: Collection[str]) -> list[str]:
    """Workspace members (for a root) and path dependencies, repository-relative."""
    out = workspace_members(data, package_dir, known)
    for d in normalize_links([*path_sources(data), *pep508_paths(data)], package_dir):
        if d not in out:
            out.append(d)
    return out
