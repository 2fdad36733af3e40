"""How uv projects link to each other: workspace members and path sources.

A uv workspace root (``[tool.uv.workspace] members = ["packages/*"]``, minus ``exclude``)
has one ``uv.lock`` covering every member. Outside workspaces, a project reaches a sibling
with ``[tool.uv.sources] core = { path = "../core", editable = true }`` (or a PEP 508
``core @ file:../core``) and keeps its own lock, which records that sibling's metadata.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import Any

from lockfix.workspace import normalize_links, pep508_paths


def _uv(data: Mapping[str, Any]) -> Mapping[str, Any]:
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, Mapping) else None
    return uv if isinstance(uv, Mapping) else {}


def is_workspace_root(data: Mapping[str, Any]) -> bool:
    return isinstance(_uv(data).get("workspace"), Mapping)


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A workspace glob as uv reads it: ``*`` and ``?`` stay within one path segment,
    ``**`` crosses segments, ``[...]`` is a character class."""
    out = []
    i = 0
    pattern = posixpath.normpath(pattern)
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def matches(rel: str, patterns: Any) -> bool:
    if not isinstance(patterns, list):
        return False
    return any(isinstance(p, str) and _glob_regex(p).match(rel) for p in patterns)


def under(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` if it lies strictly below it, else None."""
    if not root:
        return path or None
    if path.startswith(root + "/"):
        return path[len(root) + 1 :]
    return None


def workspace_members(data: Mapping[str, Any], root_dir: str, known: Collection[str]) -> list[str]:
    """Repository-relative directories of the workspace members that ``known`` holds."""
    workspace = _uv(data).get("workspace")
    if not isinstance(workspace, Mapping):
        return []
    members = [m for m in workspace.get("members") or [] if isinstance(m, str)]
    exclude = [m for m in workspace.get("exclude") or [] if isinstance(m, str)]
    out = []
    for d in sorted(known):
        rel = under(d, root_dir)
        if rel is not None and matches(rel, members) and not matches(rel, exclude):
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
