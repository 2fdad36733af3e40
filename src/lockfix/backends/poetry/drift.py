"""Path-dependency drift: a lock whose record of a path dependency is out of date.

When package A depends on package B by path, A's ``poetry.lock`` holds a ``[[package]]``
entry for B (``source.type = "directory"``) with B's version, Python constraint, extras
and main dependencies as B's ``pyproject.toml`` declared them at lock time. Poetry's
content-hash covers only A's own pyproject, so ``poetry check --lock`` stays silent when
B changes; the next ``poetry lock`` in A would change A's lock. This module compares
each such entry with B's current pyproject.

What Poetry writes there (Poetry 1.8.5 and 2.5.1 alike; ``Locker._dump_package`` of
the package ``PackageInfo.from_directory`` builds from ``Factory.create_poetry``):

* ``version`` (normalized), ``python-versions`` (B's Python constraint as written);
* ``[package.dependencies]``: B's *main* dependencies (no groups), each with its
  constraint as written (``^2.30``) or converted from PEP 508 (``>=2.30,<3.0``), its
  extras, ``optional = true``, and one ``markers`` string that folds in ``python`` and
  ``platform``; several constraints for one name become an array;
* optional dependencies only when an extra that needs them is requested by a dependent,
  dependencies whose Python range cannot meet the lock's, or whose markers exclude the
  way A reaches B, left out;
* ``[package.extras]``: every extra, its dependencies as PEP 508 strings.

So the comparison is semantic: constraints are compared as version ranges and markers
as parsed markers (``poetry-core``, the library Poetry itself reads them with, imported
only when a quick textual comparison is not conclusive), and a dependency that Poetry
may leave out is never reported as missing. It must stay silent on a freshly locked
monorepo and flag dependencies added, removed or re-constrained, and version changes.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from packaging.version import InvalidVersion, Version

from lockfix.backends.poetry.lock import LockFile, canonical_name, directory_dependencies
from lockfix.buildsafety import built_metadata

if TYPE_CHECKING:
    from poetry.core.packages.dependency import Dependency
    from poetry.core.packages.project_package import ProjectPackage

__all__ = ["Change", "Drift", "entry_changes", "find_drift", "resolve_directory"]

ChangeKind = Literal["added", "removed", "changed", "version", "python", "extras", "name"]


@dataclass(frozen=True)
class Change:
    """One difference between a lock's record of a path dependency and its pyproject."""

    kind: ChangeKind
    name: str  # the dependency or extra concerned ("" for version, python and name)
    locked: str | None  # as the lock records it (None: not there)
    current: str | None  # as the pyproject declares it now (None: not there)

    def __str__(self) -> str:
        if self.kind == "added":
            return f"{self.name} {self.current} added"
        if self.kind == "removed":
            return f"{self.name} {self.locked} removed"
        what = {"version": "version", "python": "python", "name": "name"}.get(self.kind)
        label = what or (f"extra {self.name}" if self.kind == "extras" else self.name)
        return f"{label} {self.locked} -> {self.current}"


@dataclass(frozen=True)
class Drift:
    """``package``'s lock records path dependency ``dependency`` (a directory, relative
    to the repository root, "" for the root) differently from its pyproject.toml."""

    package: str
    dependency: str
    name: str  # the path dependency's name as locked
    changes: tuple[Change, ...]

    def describe(self) -> str:
        where = self.dependency or "."
        return f"path dependency {self.name} ({where}) changed: " + "; ".join(
            str(c) for c in self.changes
        )


# -- where an entry points -------------------------------------------------------------------


def resolve_directory(package_dir: str, entry: Mapping[str, Any]) -> str | None:
    """The repository-relative directory a directory entry of ``package_dir``'s lock
    points at (its ``source.url`` is relative to the lock), or None when it leaves the
    repository or is absolute."""
    source = entry.get("source")
    url = source.get("url") if isinstance(source, Mapping) else None
    if not isinstance(url, str) or not url or url.startswith("/") or re.match(r"^\w:", url):
        return None
    joined = posixpath.normpath(posixpath.join(package_dir or ".", url.replace("\\", "/")))
    if joined == ".":
        return ""
    if joined == ".." or joined.startswith("../"):
        return None
    return joined


# -- the quick comparison (no poetry-core) ------------------------------------------------


def _same_version(a: Any, b: Any) -> bool:
    if not isinstance(a, str) or not isinstance(b, str):
        return bool(a == b)
    if a == b:
        return True
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


def _manifest_name_version(manifest: Mapping[str, Any]) -> tuple[Any, Any]:
    project = manifest.get("project")
    project = project if isinstance(project, Mapping) else {}
    tool_poetry = _tool_poetry(manifest)
    name = project.get("name") or tool_poetry.get("name", "non-package-mode")
    version = project.get("version") or tool_poetry.get("version", "0")
    return name, version


def _tool_poetry(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    tool = manifest.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, Mapping) else None
    return poetry if isinstance(poetry, Mapping) else {}


_SIMPLE_PYTHON = re.compile(r"^(>=|<=|<|>|==)?\s*(\d+(?:\.\d+)?)$")
_PEP440_CLAUSE = re.compile(r"^(~=|==|!=|<=|>=|<|>)?\s*(\d+(?:\.\d+)*)$")


def _python_marker(constraint: str) -> str | None:
    """``python = "..."`` as the marker Poetry writes, for the plain forms only
    (``<3.11``, ``>=3.8,<3.11``, ``^3.8``); None for anything else."""
    text = constraint.strip()
    if text.startswith("^"):
        m = re.fullmatch(r"\^(\d+)\.(\d+)", text)
        if m is None or m.group(1) == "0":
            return None
        major = int(m.group(1))
        return f'python_version >= "{major}.{m.group(2)}" and python_version < "{major + 1}.0"'
    lower: list[str] = []
    upper: list[str] = []
    for clause in text.split(","):
        m = _SIMPLE_PYTHON.match(clause.strip())
        if m is None or m.group(1) in (None, "=="):
            return None
        (lower if m.group(1).startswith(">") else upper).append(
            f'python_version {m.group(1)} "{m.group(2)}"'
        )
    if len(lower) > 1 or len(upper) > 1:
        return None
    return " and ".join(lower + upper)


def _normal_marker(marker: str) -> str | None:
    """A marker in one spelling (quotes, spaces) so that equal text means equal marker."""
    from packaging.markers import InvalidMarker, Marker

    try:
        return str(Marker(marker))
    except InvalidMarker:
        return None


def _clauses(constraint: str, *, pep440: bool) -> frozenset[tuple[str, Version]] | None:
    """A constraint without ``^``/``~``/``||``/wildcards as a set of (operator, version);
    ``~=`` expanded the way Poetry converts it. None when it is not that simple."""
    text = constraint.strip()
    if text in ("", "*"):
        return frozenset()
    out: set[tuple[str, Version]] = set()
    for clause in text.split(","):
        m = _PEP440_CLAUSE.match(clause.strip())
        if m is None:
            return None
        op = m.group(1) or ("" if pep440 else "==")
        if not op:
            return None
        version = Version(m.group(2))
        if op == "~=":
            parts = list(version.release)
            if len(parts) < 2:
                return None
            upper = [*parts[:-2], parts[-2] + 1, 0]
            out |= {(">=", version), ("<", Version(".".join(map(str, upper))))}
        else:
            out.add((op, version))
    return frozenset(out)


def _expected_classic(spec: Any) -> Any:
    """What Poetry writes in a path dependency's ``[package.dependencies]`` for one
    ``[tool.poetry.dependencies]`` value, when that is plain to see; None otherwise.
    Markers come back normalized (see _normal_marker)."""
    if isinstance(spec, str):
        return spec
    if not isinstance(spec, Mapping):
        return None
    keys = set(spec) - {"allow-prereleases", "source"}  # not recorded in locks
    if "path" in keys:
        path = spec["path"]
        if keys - {"path", "develop"} or not isinstance(path, str):
            return None
        out: dict[str, Any] = {"path": PurePosixPath(path).as_posix()}
        if spec.get("develop") is True:
            out["develop"] = True
        return out
    if keys - {"version", "optional", "extras", "python", "markers", "platform"}:
        return None
    version = spec.get("version", "*")
    if not isinstance(version, str):
        return None
    out = {"version": version}
    extras = spec.get("extras")
    if extras:
        if not isinstance(extras, list) or any(
            not isinstance(e, str) or canonical_name(e) != e for e in extras
        ):
            return None
        out["extras"] = sorted(extras)
    if spec.get("optional") is True:
        out["optional"] = True
    markers: list[str] = []
    if isinstance(spec.get("markers"), str):
        markers.append(spec["markers"])
    if isinstance(spec.get("python"), str):
        python = _python_marker(spec["python"])
        if python is None:
            return None
        markers.append(python)
    if isinstance(spec.get("platform"), str):
        if not re.fullmatch(r"[A-Za-z0-9_]+", spec["platform"]):
            return None
        markers.append(f'sys_platform == "{spec["platform"]}"')
    if markers:
        if len(markers) > 1 and any(" or " in m for m in markers):
            return None
        normal = _normal_marker(" and ".join(markers))
        if normal is None:
            return None
        out["markers"] = normal
    return out["version"] if set(out) == {"version"} else out


def _locked_normal(value: Any) -> Any:
    """A locked dependency value with its markers normalized like _expected_classic's."""
    if isinstance(value, Mapping) and isinstance(value.get("markers"), str):
        return {**value, "markers": _normal_marker(value["markers"])}
    return value


_PEP508 = re.compile(
    r"\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^\]]*)\])?\s*"
    r"(?:\(\s*(?P<paren>[^()@;]*?)\s*\)|(?P<bare>[<>=!~][^()@;]*?))?\s*"
    r"(?:;\s*(?P<marker>.+?))?\s*"
)


def _pep621_match(requirement: str, locked: Any) -> bool:
    """Whether a ``[project]`` dependency string is certainly what the lock holds (a
    regular expression, not a PEP 508 parser: anything unusual is "not certain")."""
    m = _PEP508.fullmatch(requirement)
    if m is None:
        return False
    if isinstance(locked, str):
        version, extras, markers = locked, [], None
    elif isinstance(locked, Mapping) and set(locked) <= {"version", "extras", "markers"}:
        version, extras, markers = (
            locked.get("version", "*"), locked.get("extras", []), locked.get("markers"))
    else:
        return False
    want = _clauses(m.group("paren") or m.group("bare") or "", pep440=True)
    have = _clauses(version, pep440=False) if isinstance(version, str) else None
    if want is None or have is None or want != have:
        return False
    wanted_extras = sorted(
        canonical_name(e.strip()) for e in (m.group("extras") or "").split(",") if e.strip()
    )
    if wanted_extras != extras:
        return False
    if m.group("marker") is None or markers is None:
        return m.group("marker") is None and markers is None
    want_marker = _normal_marker(m.group("marker"))
    return want_marker is not None and want_marker == _normal_marker(str(markers))


def _quick_match(entry: Mapping[str, Any], manifest: Mapping[str, Any]) -> bool:
    """True when the entry is certainly what Poetry writes for this pyproject, judged
    without poetry-core (whose parsers cost ~0.3 s to load). False means "look closer",
    not "drifted": plain constraints, path dependencies and simple markers are covered,
    the rest goes to the semantic comparison."""
    if entry.get("extras"):
        return False
    tool_poetry = _tool_poetry(manifest)
    project = manifest.get("project")
    project = project if isinstance(project, Mapping) else {}
    name, version = _manifest_name_version(manifest)
    if not isinstance(name, str) or canonical_name(name) != canonical_name(entry.get("name", "")):
        return False
    if not _same_version(version, entry.get("version")):
        return False
    declared = tool_poetry.get("dependencies", {})
    locked = entry.get("dependencies", {})
    if not isinstance(declared, Mapping) or not isinstance(locked, Mapping):
        return False
    python = next((v for k, v in declared.items() if k.lower() == "python"), None)
    if python is None:
        python = project.get("requires-python", "*")
    if entry.get("python-versions", "*") != python:
        return False
    locked_by_name = {canonical_name(k): v for k, v in locked.items()}

    if "dependencies" in project or "optional-dependencies" in project or "dynamic" in project:
        requirements = project.get("dependencies")
        if project.get("optional-dependencies") or project.get("dynamic"):
            return False
        if not isinstance(requirements, list):
            return False
        seen: set[str] = set()
        for requirement in requirements:
            if not isinstance(requirement, str):
                return False
            m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
            if m is None:
                return False
            key = canonical_name(m.group(1))
            if key in seen or key not in locked_by_name:
                return False
            seen.add(key)
            if not _pep621_match(requirement, locked_by_name[key]):
                return False
        return seen == locked_by_name.keys()

    if tool_poetry.get("extras"):
        return False
    wanted = {canonical_name(k): v for k, v in declared.items() if k.lower() != "python"}
    for key, spec in wanted.items():
        if isinstance(spec, Mapping) and spec.get("optional") and key not in locked_by_name:
            continue  # only recorded when a dependent asks for its extra
        if key not in locked_by_name:
            return False
        expected = _expected_classic(spec)
        if expected is None or _locked_normal(locked_by_name[key]) != expected:
            return False
    return locked_by_name.keys() <= wanted.keys()


# -- the semantic comparison (poetry-core) ------------------------------------------------


def _project_package(manifest: Mapping[str, Any], directory: Path) -> ProjectPackage | None:
    """The package Poetry builds from this pyproject (main dependencies only), or None
    when poetry-core cannot read it (Poetry would then build it, which lockfix does not)."""
    from poetry.core.factory import Factory
    from poetry.core.pyproject.toml import PyProjectTOML

    class _Given(PyProjectTOML):
        """The already-parsed pyproject: no second read, no dependence on the disk."""

        @property
        def data(self) -> dict[str, Any]:
            return dict(manifest)

        @property
        def poetry_config(self) -> dict[str, Any]:
            return dict(_tool_poetry(manifest))

    name, version = _manifest_name_version(manifest)
    if not isinstance(name, str) or not isinstance(version, str):
        return None
    try:
        package = Factory.get_package(name, version)
        Factory.configure_package(
            package, _Given(directory / "pyproject.toml"), directory, with_groups=False
        )
    except Exception:  # invalid configuration: Poetry would fall back to a PEP 517 build
        return None
    return package


def _form(dep: Dependency) -> tuple[Any, ...]:
    """What the lock keeps of a dependency, markers aside, as comparable values."""
    if dep.is_directory() or dep.is_file():
        path = posixpath.normpath(dep.path.as_posix())  # type: ignore[attr-defined]
        source: tuple[Any, ...] = ("path", path, bool(getattr(dep, "develop", False)))
    elif dep.is_url():
        source = ("url", dep.url)  # type: ignore[attr-defined]
    elif dep.is_vcs():
        source = ("vcs", dep.source, dep.branch, dep.tag, dep.rev, dep.directory)  # type: ignore[attr-defined]
    else:
        source = ("version", str(dep.constraint))
    return (source, tuple(sorted(canonical_name(e) for e in dep.extras)), dep.is_optional())


def _show(dep: Dependency) -> str:
    """A dependency the way a user reads it: ``^2.30``, ``{path = ../x}``, with markers."""
    source, extras, optional = _form(dep)
    text = str(dep.pretty_constraint) if source[0] == "version" else f"{source[0]} {source[1]}"
    if extras:
        text = f"[{','.join(extras)}] {text}"
    if optional:
        text += " (optional)"
    if not dep.marker.is_any():
        text += f"; {dep.marker}"
    return text


def _merged(deps: Iterable[Dependency]) -> dict[tuple[Any, ...], Any]:
    """The dependencies of one name by form, markers or-ed per form: Poetry merges
    duplicates that differ only in markers into one entry with the markers or-ed."""
    from poetry.core.version.markers import parse_marker

    merged: dict[tuple[Any, ...], Any] = {}
    for dep in deps:
        form = _form(dep)
        marker = parse_marker(str(dep.marker))
        merged[form] = merged[form].union(marker) if form in merged else marker
    return merged


def _same_marker(a: Any, b: Any) -> bool:
    """Equivalent markers: poetry-core compares them by their order of terms, Poetry
    versions order them differently, so equivalence is tested both ways."""
    if str(a) == str(b):
        return True
    try:
        return bool(a.intersect(b.invert()).is_empty() and b.intersect(a.invert()).is_empty())
    except Exception:  # a marker poetry-core cannot invert: compare the text only
        return False


def _same_dependencies(have: Iterable[Dependency], want: Iterable[Dependency]) -> bool:
    locked, current = _merged(have), _merged(want)
    return locked.keys() == current.keys() and all(
        _same_marker(locked[form], current[form]) for form in locked
    )


def _locked_dependencies(entry: Mapping[str, Any], directory: Path) -> dict[str, list[Dependency]]:
    from poetry.core.factory import Factory

    out: dict[str, list[Dependency]] = {}
    table = entry.get("dependencies", {})
    if not isinstance(table, Mapping):
        return out
    for name, spec in table.items():
        for one in spec if isinstance(spec, list) else [spec]:
            dep = Factory.create_dependency(name, one, root_dir=directory)
            out.setdefault(canonical_name(name), []).append(dep)
    return out


def _entry_marker(entry: Mapping[str, Any]) -> Any:
    """How the lock reaches this package (lock-version 2.1 ``markers``), or None."""
    from poetry.core.version.markers import parse_marker

    markers = entry.get("markers")
    if isinstance(markers, str):
        return parse_marker(markers)
    if isinstance(markers, Mapping) and markers:
        found = [parse_marker(m) for m in markers.values() if isinstance(m, str)]
        union = found[0]
        for m in found[1:]:
            union = union.union(m)
        return union
    return None


def _extras(entry: Mapping[str, Any], package: ProjectPackage) -> list[Change]:
    from poetry.core.packages.dependency import Dependency

    def locked_extra(reqs: Any) -> frozenset[tuple[str, str]]:
        out = set()
        for req in reqs if isinstance(reqs, list) else []:
            try:
                dep = Dependency.create_from_pep_508(req)
            except Exception:
                out.add((str(req), ""))
                continue
            out.add((dep.name, str(dep.constraint)))
        return frozenset(out)

    raw = entry.get("extras")
    locked = {canonical_name(k): v for k, v in raw.items()} if isinstance(raw, Mapping) else {}
    current = {canonical_name(str(k)): v for k, v in package.extras.items()}
    changes: list[Change] = []
    for extra in sorted(locked.keys() | current.keys()):
        have = locked_extra(locked[extra]) if extra in locked else None
        want = (
            frozenset((d.name, str(d.constraint)) for d in current[extra])
            if extra in current
            else None
        )
        if have != want:
            changes.append(
                Change(
                    "extras",
                    extra,
                    None if extra not in locked else ", ".join(map(str, locked[extra])),
                    None
                    if extra not in current
                    else ", ".join(sorted(d.base_pep_508_name for d in current[extra])),
                )
            )
    return changes


def _semantic(
    entry: Mapping[str, Any], package: ProjectPackage, directory: Path, lock: LockFile
) -> list[Change]:
    from poetry.core.constraints.version import parse_constraint

    changes: list[Change] = []
    if canonical_name(package.name) != canonical_name(str(entry.get("name", ""))):
        changes.append(Change("name", "", str(entry.get("name")), package.pretty_name))
    if not _same_version(str(entry.get("version")), str(package.version)):
        changes.append(Change("version", "", str(entry.get("version")), package.pretty_version))
    locked_python = str(entry.get("python-versions", "*"))
    try:
        python_same = parse_constraint(locked_python) == parse_constraint(package.python_versions)
    except Exception:
        python_same = locked_python == package.python_versions
    if not python_same:
        changes.append(Change("python", "", locked_python, package.python_versions))

    locked = _locked_dependencies(entry, directory)
    current: dict[str, list[Dependency]] = {}
    for dep in package.requires:
        current.setdefault(canonical_name(dep.name), []).append(dep)
    try:
        root_python = parse_constraint(lock.python_versions or "*")
    except Exception:
        root_python = parse_constraint("*")
    reached_by = _entry_marker(entry)

    for name in sorted(locked.keys() | current.keys()):
        have = locked.get(name, [])
        # what Poetry writes: deps whose Python range meets the lock's; optional ones
        # only if the lock shows their extra is wanted (then it lists them)
        want = [
            d
            for d in current.get(name, [])
            if root_python.allows_any(d.python_constraint)
            and (have or not d.is_optional())
            and (
                have
                or reached_by is None
                or d.marker.is_any()
                or not reached_by.intersect(d.marker).is_empty()
            )
        ]
        if not have and not want:
            continue
        if not want:
            if current.get(name):
                continue  # still declared; Poetry had a reason to keep it (or not)
            changes.append(Change("removed", have[0].pretty_name, _join(have), None))
        elif not have:
            changes.append(Change("added", want[0].pretty_name, None, _join(want)))
        elif not _same_dependencies(have, want):
            changes.append(Change("changed", want[0].pretty_name, _join(have), _join(want)))
    changes.extend(_extras(entry, package))
    return changes


def _join(deps: Sequence[Dependency]) -> str:
    return " | ".join(_show(d) for d in deps)


# -- the API ---------------------------------------------------------------------------------


def entry_changes(
    entry: Mapping[str, Any],
    manifest: Mapping[str, Any],
    directory: Path,
    lock: LockFile,
) -> list[Change]:
    """How the lock ``entry`` of a path dependency differs from the pyproject data
    ``manifest`` found in ``directory`` (empty: no drift). ``lock`` is the lock holding
    the entry (its Python range decides which dependencies Poetry records)."""
    return _Comparer().changes(entry, manifest, directory, lock, "")


class _Comparer:
    """Compares entries, remembering what repeats across the locks of a monorepo: each
    package built from a pyproject once, each distinct entry judged once."""

    def __init__(self) -> None:
        self._packages: dict[str, ProjectPackage | None] = {}
        self._verdicts: dict[tuple[str, str, str | None], list[Change]] = {}

    def changes(
        self,
        entry: Mapping[str, Any],
        manifest: Mapping[str, Any],
        directory: Path,
        lock: LockFile,
        key: str,
    ) -> list[Change]:
        relevant = {k: v for k, v in entry.items() if k not in ("files", "groups", "develop")}
        memo = (key, json.dumps(relevant, sort_keys=True, default=str), lock.python_versions)
        if memo in self._verdicts:
            return self._verdicts[memo]
        if _quick_match(entry, manifest) or built_metadata(manifest):
            # (metadata only a build can tell, e.g. dynamic dependencies: no verdict)
            self._verdicts[memo] = []
        else:
            if key not in self._packages:
                self._packages[key] = _project_package(manifest, directory)
            package = self._packages[key]
            try:
                verdict = [] if package is None else _semantic(entry, package, directory, lock)
            except Exception:  # an entry poetry-core cannot read: no verdict, no crash
                verdict = []
            self._verdicts[memo] = verdict
        return self._verdicts[memo]


def find_drift(
    manifests: Mapping[str, Mapping[str, Any]],
    locks: Mapping[str, LockFile],
    *,
    root: Path | str = ".",
) -> list[Drift]:
    """Every path-dependency entry of ``locks`` that no longer matches its pyproject.

    ``manifests`` maps package directories (repository-relative, "" for the root) to
    parsed ``pyproject.toml`` data, ``locks`` maps package directories to their parsed
    lock (:func:`~lockfix.backends.poetry.lock.parse_lock` or
    :func:`~lockfix.backends.poetry.lockscan.read_lock`).
    Entries pointing outside ``manifests`` (outside the repository, unparsable
    pyprojects) are skipped: there is nothing to compare them with. ``root`` is the
    repository root, used only to resolve paths the way Poetry does.
    """
    comparer = _Comparer()
    found: list[Drift] = []
    for package_dir in sorted(locks):
        lock = locks[package_dir]
        for entry in directory_dependencies(lock).values():
            target = resolve_directory(package_dir, entry)
            if target is None or target == package_dir or target not in manifests:
                continue
            directory = Path(root) / target if target else Path(root)
            changes = comparer.changes(entry, manifests[target], directory, lock, target)
            if changes:
                found.append(Drift(package_dir, target, str(entry.get("name")), tuple(changes)))
    return found
