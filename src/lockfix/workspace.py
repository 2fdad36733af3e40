"""Workspace discovery: which projects a repository holds, which tool locks each, and
how they link.

A package is a directory with a tracked ``pyproject.toml``; the lock beside it says which
backend owns it (``poetry.lock``, ``uv.lock``). Packages link to each other through path
dependencies (Poetry and uv) and workspace membership (uv): a lock records the manifests
of every package it reaches, so locks must be regenerated after the packages they depend
on. The graph gives that order. What counts as a link is each backend's business
(``backends/*/links.py``); this module only joins them.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from lockfix import PYPROJECT

_FILE_URL = re.compile(r"@\s*(file:\S+)")


def in_dir(directory: str, name: str) -> str:
    """``name`` inside a repository-relative directory ("" is the root)."""
    return posixpath.join(directory, name) if directory else name


@dataclass(frozen=True)
class Package:
    """One project directory, relative to the repository root ("" for the root)."""

    dir: str
    has_lock: bool
    #: the backend whose lock is tracked here (Poetry's, for a project with no lock: the
    #: lock a relock would write there is then only hypothetical)
    backend: str = "poetry"

    @property
    def pyproject(self) -> str:
        return in_dir(self.dir, PYPROJECT)

    @property
    def lockfile(self) -> str:
        from lockfix.backends import BY_NAME

        return in_dir(self.dir, BY_NAME[self.backend].lockfile)

    @property
    def label(self) -> str:
        return self.dir or "."


def discover(tracked: Iterable[str]) -> dict[str, Package]:
    """Packages among tracked paths: every directory holding a pyproject.toml, owned by the
    backend whose lock is tracked beside it (the first in ``BACKENDS`` if several are)."""
    from lockfix.backends import BACKENDS

    files = set(tracked)
    found: dict[str, Package] = {}
    for path in sorted(files):
        if posixpath.basename(path) == PYPROJECT:
            d = posixpath.dirname(path)
            owner = next((b for b in BACKENDS if in_dir(d, b.lockfile) in files), None)
            found[d] = Package(d, owner is not None, owner.name if owner else "poetry")
    return found


def pep508_paths(data: Mapping[str, Any]) -> list[str]:
    """Paths of PEP 508 ``name @ file:...`` requirements in ``[project]`` and
    ``[dependency-groups]``, with Poetry's project-root placeholders removed."""
    out = []
    for requirement in _pep508_strings(data):
        m = _FILE_URL.search(requirement)
        if m:
            out.append(_file_url_path(m.group(1).rstrip(";,")))
    return out


def _pep508_strings(data: Mapping[str, Any]) -> Iterable[str]:
    project = data.get("project", {})
    if isinstance(project, Mapping):
        yield from (d for d in project.get("dependencies", []) if isinstance(d, str))
        for deps in (project.get("optional-dependencies") or {}).values():
            yield from (d for d in deps if isinstance(d, str))
    for deps in (data.get("dependency-groups") or {}).values():
        yield from (d for d in deps if isinstance(d, str))


def _file_url_path(url: str) -> str:
    path = unquote(url[len("file:") :])
    for placeholder in ("${PROJECT_ROOT}", "{root:uri}", "{root}"):
        if placeholder in path:
            return "." + path.split(placeholder, 1)[1]
    if path.startswith("//"):  # file://host/path or file:///path
        path = "/" + path[2:].partition("/")[2]
    return path


def normalize_links(raw: Iterable[str], package_dir: str) -> list[str]:
    """Relative paths written in ``package_dir``'s manifest as repository-relative
    directories; archives, absolute paths and paths leaving the repository dropped."""
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


def links(data: Mapping[str, Any], package_dir: str, known: Collection[str] = ()) -> list[str]:
    """Every package directory this manifest links to, by any backend's rules (a link is a
    directory whatever tool wrote it; a project without a lock may be used by either)."""
    from lockfix.backends import BACKENDS

    out: list[str] = []
    for backend in BACKENDS:
        out += [d for d in backend.links(data, package_dir, known) if d not in out]
    return out


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
    known = set(manifests)
    deps = {d: [p for p in links(data, d, known) if p in known] for d, data in manifests.items()}
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
