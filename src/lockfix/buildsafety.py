"""Which packages a relock would have to *build*, and whether that build code is new.

Plain ``git merge`` never executes anything from the merged branch. A relock can: the
solver needs the metadata of every package the lock reaches by path (path dependencies,
workspace members), and when that metadata is not static (a ``setup.py``, a dynamic
``[project]`` field, an in-tree build backend) Poetry and uv run the package's build code
to get it. The merge driver therefore asks, before relocking, whether any reached package
needs build code that the incoming side added or changed; that code has never been run
by the user, so the driver leaves the conflict instead (unless the user allowed it, see
:func:`lockfix.config.allow_build`).

Everything here is backend-agnostic and reads git objects only (the driver must not touch
the working tree); a backend's part is only how it can *enforce* the answer (uv:
``--no-build-package``). For Poetry the prediction is the gate.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lockfix import PYPROJECT
from lockfix.errors import LockfixError
from lockfix.git import Git
from lockfix.toml import load_toml
from lockfix.toml import table as _table

#: How a solver reads a path package's metadata without building it:
#: ``poetry1`` only ``[tool.poetry]``; ``poetry2`` also static PEP 621; ``uv`` only PEP 621.
Reader = Literal["poetry1", "poetry2", "uv"]

#: ``[project]`` fields a solver needs; declaring one ``dynamic`` means building to learn it.
RESOLUTION_FIELDS = frozenset(
    {"name", "version", "dependencies", "optional-dependencies", "requires-python"}
)

#: Files a build backend (or a legacy setuptools fallback) executes or reads as code.
BUILD_FILES = ("setup.py", "setup.cfg", "build.py")


def reader_for(backend: str, version: Sequence[int]) -> Reader:
    """Poetry 1.x reads only ``[tool.poetry]`` statically; Poetry 2 also PEP 621."""
    if backend == "poetry":
        return "poetry1" if tuple(version[:1]) < (2,) else "poetry2"
    return "uv"


def _poetry_build_script(manifest: Mapping[str, Any]) -> str | None:
    """Poetry's build script (``build = "build.py"`` or ``[tool.poetry.build] script``)."""
    build = _table(manifest, "tool", "poetry").get("build")
    if isinstance(build, str):
        return build
    if isinstance(build, Mapping) and isinstance(build.get("script"), str):
        return str(build["script"])
    return None


def _dynamic(manifest: Mapping[str, Any]) -> set[str]:
    dynamic = _table(manifest, "project").get("dynamic", [])
    return {str(d) for d in dynamic} if isinstance(dynamic, list) else {"<unreadable>"}


def is_static(manifest: Mapping[str, Any], reader: Reader) -> bool:
    """Whether ``reader`` gets this package's metadata from its pyproject.toml alone."""
    if _poetry_build_script(manifest) is not None:
        return False
    poetry = _table(manifest, "tool", "poetry")
    project = _table(manifest, "project")
    poetry_static = "name" in poetry and "version" in poetry
    if reader == "poetry1":
        return poetry_static
    if reader == "poetry2":
        if not project:
            return poetry_static
        backend = str(_table(manifest, "build-system").get("build-backend", ""))
        if backend.startswith("poetry.core") and "name" in project:
            return True  # Poetry fills dynamic fields from [tool.poetry] itself
    return "name" in project and not (_dynamic(manifest) & RESOLUTION_FIELDS)


def built_metadata(manifest: Mapping[str, Any]) -> bool:
    """Whether the ``[project]`` metadata a solver needs exists only after a build (declared
    ``dynamic`` and not filled in by Poetry from ``[tool.poetry]``): nothing to compare a
    lock entry with."""
    project = _table(manifest, "project")
    if not project or not (_dynamic(manifest) & RESOLUTION_FIELDS):
        return False
    backend = str(_table(manifest, "build-system").get("build-backend", ""))
    return not backend.startswith("poetry.core")


def _pyproject_inputs(manifest: Mapping[str, Any]) -> tuple[object, ...]:
    """The parts of a pyproject.toml that decide what a build runs."""
    return (
        _table(manifest, "build-system"),
        sorted(_dynamic(manifest)),
        _poetry_build_script(manifest),
    )


def _code_paths(d: str, manifests: Sequence[Mapping[str, Any] | None]) -> list[str]:
    """Repository-relative paths of a package's build code: the legacy build files, a
    Poetry build script and every in-tree backend directory (``backend-path``)."""
    rels = list(BUILD_FILES)
    for m in manifests:
        if m is None:
            continue
        script = _poetry_build_script(m)
        if script:
            rels.append(script)
        paths = _table(m, "build-system").get("backend-path", [])
        rels += [str(p) for p in paths] if isinstance(paths, list) else []
    out = []
    for rel in dict.fromkeys(rels):
        path = posixpath.normpath(posixpath.join(d, rel)) if d else posixpath.normpath(rel)
        out.append("" if path == "." else path)
    return out


@dataclass(frozen=True)
class NewBuildCode:
    """A reached package whose relock would run build code the incoming side brought."""

    package: str  # repository-relative directory ("" for the root)
    name: str | None  # its distribution name, when the manifest says
    file: str  # what changed: a file or directory, or "<dir>/pyproject.toml [build-system]"

    def describe(self) -> str:
        label = self.name or (self.package or ".")
        return f"{label} ({self.file})"


def _parse(blob: bytes | None, where: str) -> Mapping[str, Any] | None:
    if blob is None:
        return None
    try:
        return load_toml(blob.decode("utf-8"), where)
    except (LockfixError, UnicodeDecodeError):
        return {"<unparsable>": blob}


def _name(manifest: Mapping[str, Any]) -> str | None:
    name = _table(manifest, "project").get("name") or _table(manifest, "tool", "poetry").get("name")
    return str(name) if name else None


def needs_build(manifests: Mapping[str, Mapping[str, Any]], reader: Reader) -> list[str]:
    """The reached package directories whose metadata only a build can tell."""
    return sorted(d for d, m in manifests.items() if not is_static(m, reader))


def static_names(manifests: Mapping[str, Mapping[str, Any]], reader: Reader) -> list[str]:
    """Distribution names of the reached packages that need no build (what a backend that
    can enforce it forbids to build)."""
    names = (_name(m) for d, m in manifests.items() if is_static(m, reader))
    return sorted({n for n in names if n})


def new_build_code(git: Git, ours: str, theirs: str,
                   manifests: Mapping[str, Mapping[str, Any]], reader: Reader
                   ) -> list[NewBuildCode]:
    """Reached packages (``manifests``: dir -> merged manifest) that need a build whose
    inputs at ``theirs`` differ from ``ours``: build code the user has never had.

    A package absent at ``theirs`` brings nothing of theirs; one absent at ``ours`` is new
    as a whole. Build code identical at ``ours`` is the user's own and may run, as it
    would in a plain ``poetry lock`` / ``uv lock``.
    """
    dirs = needs_build(manifests, reader)
    if not dirs:
        return []
    rel = {d: posixpath.join(d, PYPROJECT) if d else PYPROJECT for d in dirs}
    blobs = git.read_blobs([f"{rev}:{rel[d]}" for d in dirs for rev in (ours, theirs)])
    sides = {d: (_parse(blobs[2 * i], rel[d]), _parse(blobs[2 * i + 1], rel[d]))
             for i, d in enumerate(dirs)}
    found: dict[str, NewBuildCode] = {}
    compare: dict[str, list[str]] = {}  # package -> code paths to compare, in one git call
    for d, (at_ours, at_theirs) in sides.items():
        if at_theirs is None:
            continue  # the incoming side does not have this package: nothing of theirs
        name = _name(manifests[d])
        if at_ours is None:
            found[d] = NewBuildCode(d, name, d or ".")
        elif _pyproject_inputs(at_ours) != _pyproject_inputs(at_theirs):
            found[d] = NewBuildCode(d, name, f"{rel[d]} [build-system]/dynamic")
        else:
            compare[d] = _code_paths(d, [at_ours, at_theirs, manifests[d]])
    specs = [f"{rev}:{p}" for paths in compare.values() for p in paths for rev in (ours, theirs)]
    ids = iter(git.object_ids(specs))
    for d, paths in compare.items():
        changed = [p for p in paths if next(ids) != next(ids)]
        if changed:
            found[d] = NewBuildCode(d, _name(manifests[d]), changed[0] or ".")
    return [found[d] for d in dirs if d in found]
