"""Workspace discovery: which Poetry projects a repository holds and how they link.

Poetry has no workspaces, so a monorepo is just directories with a ``pyproject.toml``
(and usually a ``poetry.lock``) that point at each other with path dependencies. A
package's lock records the dependencies of every package it reaches by path, so locks
must be regenerated after the packages they depend on: the graph gives that order.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from lockfix import LOCKFILE, PYPROJECT

_FILE_URL = re.compile(r"@\s*(file:\S+)")


@dataclass(frozen=True)
class Package:
    """One project directory, relative to the repository root ("" for the root)."""

    dir: str
    has_lock: bool

    @property
    def pyproject(self) -> str:
        return posixpath.join(self.dir, PYPROJECT) if self.dir else PYPROJECT

    @property
    def lockfile(self) -> str:
        return posixpath.join(self.dir, LOCKFILE) if self.dir else LOCKFILE

    @property
    def label(self) -> str:
        return self.dir or "."


def discover(tracked: Iterable[str]) -> dict[str, Package]:
    """Packages among tracked paths: every directory holding a pyproject.toml."""
    files = set(tracked)
    found: dict[str, Package] = {}
    for path in sorted(files):
        if posixpath.basename(path) == PYPROJECT:
            d = posixpath.dirname(path)
            found[d] = Package(d, posixpath.join(d, LOCKFILE) in files if d else LOCKFILE in files)
    return found


def _poetry_dependency_tables(data: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
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


def _pep508_strings(data: Mapping[str, Any]) -> Iterable[str]:
    project = data.get("project", {})
    if isinstance(project, Mapping):
        yield from (d for d in project.get("dependencies", []) if isinstance(d, str))
        for deps in (project.get("optional-dependencies") or {}).values():
            yield from (d for d in deps if isinstance(d, str))
    for deps in (data.get("dependency-groups") or {}).values():
        yield from (d for d in deps if isinstance(d, str))


def _file_url_path(url: str) -> str:
    """The path in a PEP 508 ``file:`` URL, with Poetry's project-root placeholders removed."""
    path = unquote(url[len("file:") :])
    for placeholder in ("${PROJECT_ROOT}", "{root:uri}", "{root}"):
        if placeholder in path:
            return "." + path.split(placeholder, 1)[1]
    if path.startswith("//"):  # file://host/path or file:///path
        path = "/" + path[2:].partition("/")[2]
    return path


def path_dependencies(data: Mapping[str, Any], package_dir: str) -> list[str]:
    """Directories (relative to the repository root, normalized) this project depends on.

    Covers Poetry tables ``{ path = "../core", develop = true }`` in main, legacy dev and
    group dependencies, and PEP 508 ``name @ file:...`` strings in ``[project]`` and
    ``[dependency-groups]``. Paths to archives (``.whl``, ``.tar.gz``) are not projects.
    Absolute paths and paths leaving the repository are skipped: they are not ours.
    """
    raw: list[str] = []
    for table in _poetry_dependency_tables(data):
        for spec in table.values():
            specs = spec if isinstance(spec, list) else [spec]
            raw.extend(
                s["path"] for s in specs if isinstance(s, Mapping) and isinstance(s.get("path"), str)
            )
    for requirement in _pep508_strings(data):
        m = _FILE_URL.search(requirement)
        if m:
            raw.append(_file_url_path(m.group(1).rstrip(";,")))
    result: list[str] = []
    for path in raw:
        if path.startswith("/") or path.endswith((".whl", ".zip", ".tar.gz", ".tgz")):
            continue
        joined = posixpath.normpath(posixpath.join(package_dir or ".", path))
        if joined == ".":
            joined = ""
        if joined.startswith(".."):
            continue
        if joined != package_dir and joined not in result:
            result.append(joined)
    return result


@dataclass
class Graph:
    """Path-dependency edges between packages (``deps[a]`` = packages ``a`` uses)."""

    deps: dict[str, list[str]]
    cycles: list[list[str]] = field(default_factory=list)

    def dependents_closure(self, roots: Iterable[str]) -> set[str]:
        """``roots`` and every package that reaches one of them through path dependencies."""
        users: dict[str, set[str]] = {}
        for a, bs in self.deps.items():
            for b in bs:
                users.setdefault(b, set()).add(a)
        seen = set(roots)
        stack = list(seen)
        while stack:
            for user in users.get(stack.pop(), ()):
                if user not in seen:
                    seen.add(user)
                    stack.append(user)
        return seen

    def reachable(self, root: str) -> list[str]:
        """Every package ``root`` reaches through path dependencies (not itself)."""
        seen: list[str] = []
        stack = list(self.deps.get(root, ()))
        while stack:
            d = stack.pop()
            if d not in seen and d != root:
                seen.append(d)
                stack.extend(self.deps.get(d, ()))
        return seen

    def levels(self, subset: Iterable[str]) -> list[list[str]]:
        """``subset`` in dependency order: each level depends only on earlier levels.

        Packages in one level are independent and can be locked in parallel. Members of
        a cycle are put together in the last level rather than looped on; the cycle is
        recorded in :attr:`cycles` by :func:`build_graph`.
        """
        remaining = set(subset)
        done: set[str] = set()
        out: list[list[str]] = []
        while remaining:
            ready = sorted(
                p for p in remaining if all(d in done or d not in remaining for d in self.deps.get(p, ()))
            )
            if not ready:
                out.append(sorted(remaining))
                break
            out.append(ready)
            done.update(ready)
            remaining.difference_update(ready)
        return out


def build_graph(manifests: Mapping[str, Mapping[str, Any]]) -> Graph:
    """The path-dependency graph between known packages, with cycles found (Tarjan-free DFS)."""
    deps = {
        d: [p for p in path_dependencies(data, d) if p in manifests]
        for d, data in manifests.items()
    }
    graph = Graph(deps)
    state: dict[str, int] = {}  # 1 = on stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in deps.get(node, ()):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                if sorted(cycle) not in [sorted(c) for c in graph.cycles]:
                    graph.cycles.append(cycle)
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(deps):
        if node not in state:
            visit(node)
    return graph
