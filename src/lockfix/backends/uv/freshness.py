"""Is a ``uv.lock`` still fresh? Answered natively: no uv, no index, no network.

``uv lock --check`` re-resolves and fails when the lock it would write differs from the
one on disk. The lock would differ exactly when what it *recorded about the project*
differs from what the ``pyproject.toml`` files now declare, because uv stores that record
in the lock (``[manifest]`` and each local package's ``[package.metadata]``) and starts
any relock from the locked versions. So this module re-derives that record from the
pyprojects and compares it with the lock the way uv's ``Lock::satisfies`` and
``ValidatedLock::validate`` do (read in ``crates/uv-resolver/src/lock/mod.rs`` and
``crates/uv/src/commands/project/lock.rs``), not as text:

* requirements are compared as sets of normalised requirements: canonical names, sorted
  extras, specifier *sets* (``>=2.30.0,<3`` equals ``<3,>=2.30``), sources lowered from
  ``[tool.uv.sources]`` (``editable``/``directory``/``path`` relative to the lock,
  ``index`` as its URL, ``git``, ``url``; sources with markers split the requirement as
  uv does), and markers compared by meaning, restricted to
  the lock's ``requires-python`` (uv simplifies markers against it, so
  ``python_version >= "3.8"`` under ``>=3.9`` is no marker at all);
* per lock: schema ``version`` 1 (any ``revision``: a lock written by uv 0.5 still counts
  when it matches), ``requires-python`` compared as a range, ``[manifest]`` ``members``,
  ``constraints``, ``overrides``, ``build-constraints``, ``dependency-groups`` of a
  non-project root, and the ``[options]`` resolution/prerelease/fork strategy;
* per local package (workspace members, and path dependencies: "drift"): virtual or
  editable as uv would decide, static ``version``, ``requires-dist``, ``provides-extras``
  (locks of revision >= 1 only, as uv) and ``requires-dev`` (PEP 735 groups plus
  ``[tool.uv] dev-dependencies`` as group ``dev``; empty groups count from revision 1).

Speed: a uv.lock is mostly ``[[package]]`` tables of registry packages, which carry no
project record. They are skipped unread (found with ``str.find``); the head of the file
goes through ``tomllib``; the tables of local packages (source ``editable``, ``virtual``
or ``directory``) through a strict reader of the exact layout uv writes, which hands
anything else (comments, escapes, another layout) to ``tomllib``. Their arrays of
resolved edges (``dependencies``, ``[package.optional-dependencies]``,
``[package.dev-dependencies]``) are skipped too. So TOML errors in what is skipped are not
reported here (conflict markers are found by ``lockfix check``'s own scan). Requirement
and marker parsing is cached: a monorepo repeats the same requirements in every lock.

Not judged (reported fresh when nothing else differs): dynamic ``dependencies`` or
``optional-dependencies`` (uv would build the package), local packages whose directory is
not among the known manifests, local packages without ``[package.metadata]`` (uv >= 0.8
may omit it; uv then compares resolved edges), sources conditional on an extra or a
group (that requirement only),
``[tool.uv] environments`` and ``conflicts``, the value of ``exclude-newer`` (only its
presence), which index a registry package came from, and whether the locked versions
still satisfy the requirements (uv re-resolves; a hand-edited version is not caught).
``[tool.uv]`` settings (``resolution``...) count as uv counts them without
``--no-config``.
"""

from __future__ import annotations

import itertools
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple, Optional
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from packaging.markers import InvalidMarker, Marker, default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from lockfix.backends.uv.links import matches as _matches
from lockfix.backends.uv.links import under as _under
from lockfix.errors import LockfixError
from lockfix.toml import load_toml
from lockfix.toml import table as _table

__all__ = [
    "UvFreshness",
    "freshness",
    "is_uv_project",
    "workspace_members",
    "workspace_root",
]

_LOCAL_SOURCES = ("editable", "virtual", "directory")
_SOURCE_KEYS = ("editable", "directory", "virtual", "path", "git", "url", "index")
_OPTION_DEFAULTS = {
    # [tool.uv] key -> (lock [options] key, uv's default)
    "resolution": ("resolution-mode", "highest"),
    "prerelease": ("prerelease-mode", "if-necessary-or-explicit"),
    "fork-strategy": ("fork-strategy", "requires-python"),
}
_PACKAGE_HEADER = re.compile(r"^\[\[package\]\]\s*$", re.MULTILINE)
_SOURCE_LINE = re.compile(r"^source\s*=\s*\{\s*([a-z-]+)\s*=", re.MULTILINE)


@dataclass(frozen=True)
class UvFreshness:
    """The verdict on one uv.lock: ``reasons`` are one-line explanations, empty if fresh."""

    fresh: bool
    reasons: tuple[str, ...]


# --------------------------------------------------------------------------- workspace


_SEPARATORS = re.compile(r"[-_.]+")


def _canon(name: str) -> str:
    """PEP 503 normal name (``canonicalize_name`` without its validation, 5x cheaper)."""
    return _SEPARATORS.sub("-", name).lower()


def _join(base: str, rel: str) -> str:
    """Repository-relative normal path of ``rel`` seen from directory ``base``."""
    path = posixpath.normpath(posixpath.join(base, rel)) if base else posixpath.normpath(rel)
    return "" if path == "." else path


def _relative(path: str, start: str) -> str:
    """``path`` relative to ``start`` (both repository-relative), as uv writes it."""
    return posixpath.relpath(path or ".", start or ".")


def workspace_members(root_dir: str, manifests: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Repository-relative directories of the workspace rooted at ``root_dir``, sorted.

    The root itself is a member when it has a ``[project]`` table; other members are the
    known package directories matched by ``[tool.uv.workspace] members`` and not by
    ``exclude`` (globs relative to the root), that have a ``[project]`` table. A root
    without ``[tool.uv.workspace]`` is a workspace of itself alone."""
    root = manifests.get(root_dir, {})
    found = [root_dir] if isinstance(root.get("project"), Mapping) else []
    workspace = _table(root, "tool", "uv", "workspace")
    if not workspace:
        return found
    for directory, manifest in manifests.items():
        rel = _under(directory, root_dir)
        if rel is None or not isinstance(manifest.get("project"), Mapping):
            continue
        if _matches(rel, workspace.get("members")) and not _matches(rel, workspace.get("exclude")):
            found.append(directory)
    return sorted(set(found))


def workspace_root(package_dir: str, manifests: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The directory whose ``uv.lock`` covers ``package_dir``: the nearest ancestor (or the
    directory itself) with ``[tool.uv.workspace]`` that lists it as a member; None when
    it belongs to no declared workspace (then its own directory holds its lock)."""
    parts = package_dir.split("/") if package_dir else []
    for n in range(len(parts), -1, -1):
        candidate = "/".join(parts[:n])
        if candidate in manifests and _table(manifests[candidate], "tool", "uv", "workspace"):
            if package_dir in workspace_members(candidate, manifests):
                return candidate
            if candidate == package_dir:
                return candidate
    return None


def is_uv_project(package_dir: str, manifests: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether the pyproject.toml in ``package_dir`` is managed by uv, so that a uv.lock
    is expected (at :func:`workspace_root`, or in ``package_dir`` itself).

    The rule: it has a ``[tool.uv]`` table (any key, ``[tool.uv.sources]`` included), or
    it is a member of a uv workspace declared by an ancestor. A plain PEP 621 project
    without either is not claimed: it may as well be Poetry's, Hatch's or PDM's."""
    manifest = manifests.get(package_dir)
    if manifest is None:
        return False
    if isinstance(_table(manifest, "tool").get("uv"), Mapping):
        return True
    return workspace_root(package_dir, manifests) is not None


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Lock:
    version: int
    revision: int
    requires_python: str | None
    head: Mapping[str, Any]
    local: Mapping[str, Mapping[str, Any]]  # canonical name -> [[package]] table


def _read_lock(text: str, where: str) -> _Lock:
    """Parse the head of the lock and the tables of local packages only (see the module
    docstring for why); everything uv needs to decide freshness lives there."""
    starts = _package_starts(text)
    head_end = starts[0] if starts else len(text)
    head = load_toml(text[:head_end], where)
    local: dict[str, Mapping[str, Any]] = {}
    bounds = [*starts, len(text)]
    for start, end in zip(bounds, bounds[1:]):
        if not _is_local(text, start, end):
            continue
        chunk = text[start:end]
        package = _fast_package(chunk)
        if package is None:
            # Not the layout uv writes: let tomllib judge it (and place its errors, padded
            # so that line numbers count from the top of the file).
            parsed = load_toml("\n" * text.count("\n", 0, start) + chunk, where)
            packages = parsed.get("package")
            if not isinstance(packages, list) or len(packages) != 1:
                raise LockfixError(f"{where}: unexpected [[package]] table")
            package = packages[0]
        name = package.get("name")
        if not isinstance(name, str):
            raise LockfixError(f"{where}: a [[package]] has no name")
        local[canonicalize_name(name)] = package
    version = head.get("version")
    revision = head.get("revision", 0)
    if not isinstance(version, int) or not isinstance(revision, int):
        raise LockfixError(f"{where}: not a uv.lock (no integer `version`)")
    rp = head.get("requires-python")
    return _Lock(version, revision, rp if isinstance(rp, str) else None, head, local)


def _package_starts(text: str) -> list[int]:
    """Offsets of the ``[[package]]`` lines (str.find runs at C speed; a MULTILINE regex
    costs ~10x on 100-entry locks)."""
    starts = [0] if text.startswith("[[package]]\n") else []
    pos = text.find("\n[[package]]\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = text.find("\n[[package]]\n", pos + 12)
    if "\r" in text:  # Windows line ends: the exact regular expression instead
        return [m.start() for m in _PACKAGE_HEADER.finditer(text)]
    return starts


def _is_local(text: str, start: int, end: int) -> bool:
    """Whether the [[package]] table at ``start`` has a local source; uv writes ``source``
    as the third key, so the first ``\nsource = {`` line decides."""
    pos = text.find("\nsource = { ", start, end)
    if pos == -1:
        m = _SOURCE_LINE.search(text, start, end)
        return m is not None and m.group(1) in _LOCAL_SOURCES
    return text.startswith(_LOCAL_PREFIXES, pos + 12)


_LOCAL_PREFIXES = tuple(f"{kind} = " for kind in _LOCAL_SOURCES)

# A reader for exactly the layout uv writes for one [[package]] table, ~20x faster than
# tomllib on the long requires-dist arrays. Values: basic strings without escapes,
# integers, booleans, one-line arrays of those, inline tables of those, and arrays of
# inline tables either on one line or one item a line. Anything else returns None and
# tomllib reads the table instead.
_S = r'"[^"\\\n]*"'
_V = rf"(?:{_S}|true|false|-?\d+|\[(?:{_S}(?:, {_S})*)?\])"
_INLINE = rf"\{{ (?:[A-Za-z0-9_-]+ = {_V}(?:, [A-Za-z0-9_-]+ = {_V})*)? \}}"
_LINE = re.compile(
    rf"(?P<header>\[(?P<table>[A-Za-z0-9_.-]+)\])"
    rf"|(?P<key>[A-Za-z0-9_-]+) = (?:(?P<value>{_V}|{_INLINE})"
    rf"|(?P<tables>\[(?:{_INLINE}(?:, {_INLINE})*)?\])|(?P<open>\[))"
)
_ITEM = re.compile(rf"    (?P<item>{_S}|{_INLINE}),")
_PAIR = re.compile(rf"([A-Za-z0-9_-]+) = ({_V})")
_INLINE_RE = re.compile(_INLINE)
_STRING_RE = re.compile(_S)


_EDGES: list[Any] = []  # marks an array of resolved edges, skipped unread


class _Raw(str):
    """The text of an inline table in an array, parsed when used (:func:`_locked_req`,
    cached): most of them are resolved edges nobody reads, and the rest repeat."""


def _fast_value(text: str) -> Any:
    if text[0] == '"':
        return text[1:-1]
    if text[0] == "[":
        return [s[1:-1] for s in _STRING_RE.findall(text)]
    if text[0] == "{":
        return {k: _fast_value(v) for k, v in _PAIR.findall(text)}
    if text in ("true", "false"):
        return text == "true"
    return int(text)


def _fast_package(chunk: str) -> dict[str, Any] | None:
    """One ``[[package]]`` table in uv's layout, or None when it is not in that layout."""
    lines = chunk.split("\n")
    if lines[0] != "[[package]]":
        return None
    i = 0
    n = len(lines)
    package: dict[str, Any] = {}
    table = package
    seen: set[tuple[str, ...]] = set()
    array: list[Any] | None = None
    inline: set[int] = set()
    path_kind = ""
    while i + 1 < n:
        i += 1
        line = lines[i]
        if array is not None:
            if line == "]":
                array = None
                continue
            if array is _EDGES:  # resolved edges: nobody reads them, skip to the end
                try:
                    i = lines.index("]", i) - 1
                except ValueError:
                    return None
                continue
            m = _ITEM.fullmatch(line)
            if m is None:
                return None
            item = m.group("item")
            array.append(_Raw(item) if item[0] == "{" else item[1:-1])
            continue
        if not line:
            continue
        m = _LINE.fullmatch(line)
        if m is None:
            return None
        if m.group("header"):
            path = tuple(m.group("table").split("."))
            if path[0] != "package" or len(path) < 2 or path in seen:
                return None
            seen.add(path)
            path_kind = path[1]
            table = package
            for part in path[1:]:
                child = table.setdefault(part, {})
                if not isinstance(child, dict) or id(child) in inline:
                    return None  # TOML forbids extending an inline table
                table = child
            continue
        key = m.group("key")
        if key in table:
            return None
        if m.group("value") is not None:
            table[key] = value = _fast_value(m.group("value"))
            if isinstance(value, dict):
                inline.add(id(value))
        elif m.group("tables") is not None:
            table[key] = [_Raw(t) for t in _INLINE_RE.findall(m.group("tables"))]
        elif (table is package and key != "dependencies") or path_kind == "metadata":
            array = table[key] = []
        else:
            array = _EDGES
            table[key] = []
    return package if array is None else None


# ------------------------------------------------------------------- python and markers


def _release(text: str) -> tuple[int, ...]:
    """Release tuple without trailing zeros (``3.10.0`` is ``3.10``)."""
    release = list(Version(text).release)
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    return tuple(release)


def _bump(release: tuple[int, ...], depth: int) -> tuple[int, ...]:
    padded = (*release, 0, 0)[:depth]
    return (*padded[:-1], padded[-1] + 1)


Bound = Optional[tuple[tuple[int, ...], bool]]  # (release, inclusive); None: unbounded


def _python_range(spec: str) -> tuple[Bound, Bound]:
    """(lower, upper) bounds of a ``requires-python``, each (release, inclusive): the
    "range" uv compares, which ignores ``!=`` holes and spelling."""
    lower: Bound = None
    upper: Bound = None

    def raise_lower(b: Bound) -> None:
        nonlocal lower
        if b is not None and (lower is None or (b[0], not b[1]) > (lower[0], not lower[1])):
            lower = b

    def cut_upper(b: Bound) -> None:
        nonlocal upper
        if b is not None and (upper is None or (b[0], b[1]) < (upper[0], upper[1])):
            upper = b

    for item in SpecifierSet(spec):
        op, version = item.operator, item.version
        if version.endswith(".*"):
            base = _release(version[:-2])
            if op == "==":
                raise_lower((base, True))
                cut_upper((_bump(base, len(Version(version[:-2]).release)), False))
            continue
        rel = _release(version)
        if op == ">=":
            raise_lower((rel, True))
        elif op == ">":
            raise_lower((rel, False))
        elif op == "<":
            cut_upper((rel, False))
        elif op == "<=":
            cut_upper((rel, True))
        elif op in ("==", "==="):
            raise_lower((rel, True))
            cut_upper((rel, True))
        elif op == "~=":
            raise_lower((rel, True))
            depth = len(Version(version).release)
            cut_upper((_bump(Version(version).release[: depth - 1], depth - 1), False))
    return lower, upper


def _walk_atoms(markers: Any) -> Iterator[tuple[str, str]]:
    """(variable, constant) pairs of a parsed packaging marker."""
    for item in markers:
        if isinstance(item, list):
            yield from _walk_atoms(item)
        elif isinstance(item, tuple) and len(item) == 3:
            left, _op, right = item
            lname = type(left).__name__
            if lname == "Variable":
                yield str(left.value), str(right.value)
            elif type(right).__name__ == "Variable":
                yield str(right.value), str(left.value)


_PYTHON_VARS = ("python_version", "python_full_version")
_BASE_ENV = {k: str(v) for k, v in default_environment().items()}


def _python_points(constants: Iterable[str], requires_python: SpecifierSet) -> list[str]:
    """Full Python versions that tell apart every marker built from ``constants``:
    each boundary, just above and just below it, inside ``requires-python`` only."""
    points: set[tuple[int, int, int]] = set()
    for c in constants:
        try:
            rel = Version(c.rstrip(".*") or "0").release
        except InvalidVersion:
            continue
        a, b, p = (*rel, 0, 0)[:3]
        points.update({(a, b, p), (a, b, p + 1), (a, b + 1, 0), (a, b + 1, 1)})
        if p > 0:
            points.add((a, b, p - 1))
        if b > 0:
            points.update({(a, b - 1, 0), (a, b - 1, 99)})
        elif a > 0:
            points.add((a - 1, 99, 99))
    for spec in requires_python:
        try:
            a, b, p = (*Version(spec.version.rstrip(".*")).release, 0, 0)[:3]
        except InvalidVersion:
            continue
        points.update({(a, b, p), (a, b, p + 1), (a, b + 1, 0)})
    if not points:
        points.add((3, 12, 0))
    inside = [".".join(map(str, v)) for v in sorted(points)]
    kept = [v for v in inside if requires_python.contains(v, prereleases=True)]
    return kept or inside[:1]


@lru_cache(maxsize=4096)
def _marker(text: str) -> Marker | None:
    return Marker(text) if text else None


def _compiled(text: str) -> list[Marker | None]:
    """[base, *excluded] of a marker, "base and not (excluded...)" (see ``_AND_NOT``)."""
    return [_marker(part) for part in text.split(_AND_NOT)]


def _evaluate(parts: list[Marker | None], env: dict[str, str]) -> bool:
    base, *excluded = parts
    if base is not None and not base.evaluate(env):
        return False
    return not any(m is None or m.evaluate(env) for m in excluded)


def _same_marker(a: str, b: str, requires_python: SpecifierSet) -> bool:
    """Whether two markers agree on every environment inside ``requires-python``."""
    return a == b or _same_marker_cached(a, b, str(requires_python))


@lru_cache(maxsize=4096)
def _same_marker_cached(a: str, b: str, requires_python_text: str) -> bool:
    """:func:`_same_marker`, cached: the same pairs recur in every lock of a monorepo.

    Checked on a finite set of environments that covers every comparison either marker
    makes (each constant, and values just around version constants), which decides
    equivalence for the markers found in pyproject files."""
    requires_python = SpecifierSet(requires_python_text)
    ma, mb = _compiled(a), _compiled(b)
    atoms: dict[str, set[str]] = {}
    for parts in (ma, mb):
        for m in parts:
            if m is not None:
                for var, const in _walk_atoms(m._markers):
                    atoms.setdefault(var, set()).add(const)
    python_consts = set().union(*(atoms.pop(v, set()) for v in _PYTHON_VARS))
    axes: list[list[dict[str, str]]] = [
        [
            {"python_full_version": v, "python_version": ".".join(v.split(".")[:2])}
            for v in _python_points(python_consts, requires_python)
        ]
    ]
    for var, consts in sorted(atoms.items()):
        axes.append([{var: c} for c in sorted(consts)] + [{var: "\x00other"}])
    size = 1
    for axis in axes:
        size *= len(axis)
    if size > 20_000:  # pragma: no cover - far beyond any marker in a pyproject
        return a == b
    for combo in itertools.product(*axes):
        env = dict(_BASE_ENV)
        for part in combo:
            env.update(part)
        env.setdefault("extra", "")
        va, vb = _evaluate(ma, env), _evaluate(mb, env)
        if va != vb:
            return False
    return True


# ------------------------------------------------------------------------ requirements


class _Req(NamedTuple):
    """One requirement normalised the way uv compares them: ``marker`` is compared by
    meaning (see :func:`_same_marker`), the fields before it by equality, ``shown`` is
    for messages. A tuple, so that ``req[:5]`` is a cheap exact identity."""

    name: str
    extras: tuple[str, ...]
    specifier: frozenset[tuple[str, str]]
    source: tuple[str, ...]
    marker: str
    shown: str

    @property
    def key(self) -> tuple[Any, ...]:
        return self[:4]


@lru_cache(maxsize=4096)
def _norm_marker(text: str) -> str:
    """packaging's spelling of a marker (quotes, spacing), so that equal text is a fast
    path; meaning is compared by :func:`_same_marker`."""
    try:
        return str(Marker(text)) if text.strip() else ""
    except InvalidMarker:
        return text.strip()


_CLAUSE = re.compile(r"\s*(~=|===|==|!=|<=|>=|<|>)\s*([^\s,;]+)\s*")
_PLAIN_VERSION = re.compile(r"\d+(?:\.\d+)*")


@lru_cache(maxsize=4096)
def _specifiers(text: str) -> frozenset[tuple[str, str]] | None:
    """A specifier set as uv compares it: a set of (operator, version) with versions
    compared as PEP 440 versions (``>=2.30.0`` is ``>=2.30``); None when not valid."""
    out = set()
    for clause in text.split(",") if text.strip() else ():
        m = _CLAUSE.fullmatch(clause)
        if m is None:
            return None
        op, version = m.groups()
        if op == "===":
            pass
        elif _PLAIN_VERSION.fullmatch(version):
            version = ".".join(map(str, _release(version)))
        elif not version.endswith(".*"):
            try:
                version = str(Version(version))
            except InvalidVersion:
                return None
        out.add((op, version))
    return frozenset(out)


_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_PEP508 = re.compile(
    rf"\s*(?P<name>{_NAME})\s*(?:\[(?P<extras>[^\]]*)\])?\s*(?P<spec>[<>=!~][^;]*?)?\s*"
    rf"(?:;\s*(?P<marker>.*?))?\s*"
)
_EXTRA = re.compile(rf"\s*({_NAME})\s*")


@lru_cache(maxsize=8192)
def _pep508(text: str) -> tuple[str, tuple[str, ...], frozenset[tuple[str, str]], str, str | None]:
    """(name, extras, specifier key, marker, url) of a PEP 508 string. A regular
    expression reads the usual forms; anything else (URLs, parenthesised specifiers)
    goes through ``packaging``, which also raises for what is not PEP 508."""
    m = _PEP508.fullmatch(text)
    if m is not None:
        spec = _specifiers(m.group("spec") or "")
        extras_text = m.group("extras")
        parts = [] if not extras_text or not extras_text.strip() else extras_text.split(",")
        extras = [_EXTRA.fullmatch(p) for p in parts]
        if spec is not None and all(extras):
            names = tuple(sorted({_canon(e.group(1)) for e in extras if e}))
            marker = _norm_marker(m.group("marker") or "")
            return _canon(m.group("name")), names, spec, marker, None
    req = Requirement(text)
    spec = _specifiers(str(req.specifier)) or frozenset()
    return (
        canonicalize_name(req.name),
        tuple(sorted({canonicalize_name(x) for x in req.extras})),
        spec,
        str(req.marker) if req.marker is not None else "",
        req.url,
    )


def _url_key(url: str) -> str:
    return url.rstrip("/")


def _git_key(url: str, ref: tuple[str, str] | None, subdirectory: str | None) -> tuple[str, ...]:
    return ("git", url, *(ref or ("", "")), subdirectory or "")


def _git_from_lock(value: str) -> tuple[str, ...]:
    """``git = "https://host/repo?tag=v1&subdirectory=x#commit"`` as uv writes it."""
    parts = urlsplit(value)
    query = dict(parse_qsl(parts.query))
    subdirectory = query.pop("subdirectory", None)
    ref = next(((k, v) for k, v in query.items() if k in ("rev", "tag", "branch")), None)
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return _git_key(url, ref, subdirectory)


@lru_cache(maxsize=8192)
def _locked_req(text: str) -> _Req:
    return _from_lock(_fast_value(text))


def _from_lock(entry: Mapping[str, Any]) -> _Req:
    """A ``requires-dist`` / ``requires-dev`` entry of the lock."""
    name = _canon(str(entry.get("name", "")))
    extras = tuple(sorted({_canon(str(x)) for x in entry.get("extras", []) or []}))
    spec = str(entry.get("specifier", ""))
    source: tuple[str, ...] = ("registry",)
    for key in _SOURCE_KEYS:
        value = entry.get(key)
        if not isinstance(value, str):
            continue
        if key in ("editable", "directory", "virtual", "path"):
            source = (key, posixpath.normpath(value))
        elif key == "git":
            source = _git_from_lock(value)
        elif key == "url":
            source = ("url", value, str(entry.get("subdirectory", "")))
        elif key == "index":
            source = ("index", _url_key(value))
        break
    marker = _norm_marker(str(entry.get("marker", "")))
    return _Req(name, extras, _specifiers(spec) or frozenset(), source, marker, "")


def _show(req: _Req) -> str:
    """How a requirement reads in a reason: as the pyproject wrote it, or in PEP 508 form
    for a lock entry (rendered only when it is reported)."""
    if req.shown:
        return req.shown
    extras = f"[{','.join(req.extras)}]" if req.extras else ""
    if req.source[0] in ("registry", "index"):
        spec = ",".join(f"{op}{v}" for op, v in sorted(req.specifier, key=lambda c: (c[1], c[0])))
        text = f"{req.name}{extras}{spec}"
    else:
        text = f"{req.name}{extras} @ {req.source[1]}"
    marker = req.marker
    if _AND_NOT in marker:
        base, *excluded = marker.split(_AND_NOT)
        marker = " and ".join([*([f"({base})"] if base else []), *(f"not ({m})" for m in excluded)])
    return text + (f"; {marker}".replace('"', "'") if marker else "")


@dataclass(frozen=True)
class _Context:
    """What lowering one package's requirements needs to know."""

    package_dir: str
    lock_dir: str
    sources: Mapping[str, Any]  # canonical name -> source entry
    indexes: Mapping[str, str]  # index name -> url
    members: Mapping[str, str]  # canonical name -> directory
    requires_python: str  # the lock's, against which markers are simplified
    #: members a lock of revision 0 (uv 0.5 and older) records as virtual although another
    #: member requires them: uv made such members editable packages only later
    legacy_virtual: frozenset[str] = frozenset()


def _lower_source(name: str, entry: Mapping[str, Any], ctx: _Context) -> tuple[str, ...] | None:
    """The lock's form of a ``[tool.uv.sources]`` entry; None leaves the requirement a
    registry one (unknown source shapes are not guessed)."""
    if entry.get("workspace") is True:
        directory = ctx.members.get(name)
        if directory is None:
            return ("workspace", name)
        if name in ctx.legacy_virtual:
            return ("virtual", posixpath.normpath(_relative(directory, ctx.lock_dir)))
        kind = "directory" if entry.get("editable") is False else "editable"
        return (kind, posixpath.normpath(_relative(directory, ctx.lock_dir)))
    if isinstance(entry.get("path"), str):
        target = _join(ctx.package_dir, entry["path"])
        rel = posixpath.normpath(_relative(target, ctx.lock_dir))
        if re.search(r"\.(whl|tar\.gz|zip|tar\.bz2|tgz)$", target):
            return ("path", rel)
        if entry.get("package") is False:
            return ("virtual", rel)
        return ("editable" if entry.get("editable") is True else "directory", rel)
    if isinstance(entry.get("git"), str):
        ref = next(((k, str(entry[k])) for k in ("rev", "tag", "branch") if k in entry), None)
        subdirectory = entry.get("subdirectory")
        return _git_key(entry["git"], ref, subdirectory if isinstance(subdirectory, str) else None)
    if isinstance(entry.get("url"), str):
        return ("url", entry["url"], str(entry.get("subdirectory", "")))
    if isinstance(entry.get("index"), str):
        url = ctx.indexes.get(entry["index"])
        return ("index", _url_key(url)) if url else ("index?", entry["index"])
    return None


@lru_cache(maxsize=8192)
def _registry_req(text: str, extra: str | None) -> _Req | None:
    """:func:`_lower` for a requirement no source applies to (most of them), cached;
    None for a direct URL."""
    name, extras, specifier, marker, url = _pep508(text)
    if url:
        return None
    if extra is not None:
        clause = f'extra == "{canonicalize_name(extra)}"'
        marker = _norm_marker(f"({marker}) and {clause}" if marker else clause)
    shown = text.strip() if extra is None else f"{text.strip()} (extra {extra})"
    return _Req(name, extras, specifier, ("registry",), marker, shown)


# A marker no environment satisfies, and the separator of a "base and not (a or b)"
# marker: what remains of a requirement that sources with markers only partly cover.
# PEP 508 has no "not", so that form only lives inside this module.
_FALSE = 'python_full_version < "0"'
_AND_NOT = "\x00"


def _and(a: str, b: str) -> str:
    return _norm_marker(f"({a}) and ({b})") if a and b else a or b


def _lower(text: str, ctx: _Context, extra: str | None = None) -> list[_Req]:
    """A PEP 508 string of a pyproject with ``[tool.uv.sources]`` applied as uv does: one
    requirement, or one a source entry for sources with markers (plus what they leave
    uncovered, from the registry). A source conditional on an extra or a group is not
    judged (a requirement with source ``unjudged``)."""
    try:
        name, extras, specifier, marker, url = _pep508(text)
        if name not in ctx.sources:
            plain = _registry_req(text, extra)
            if plain is not None:
                return [plain]
    except InvalidRequirement as exc:
        raise LockfixError(f"{ctx.package_dir or '.'}/pyproject.toml: {exc}") from None
    if extra is not None:
        marker = _and(marker, f'extra == "{_canon(extra)}"')
    shown = text.strip() if extra is None else f"{text.strip()} (extra {extra})"
    raw = ctx.sources.get(name)
    if raw is None:  # a direct URL (`name @ https://...`), no source
        return [_Req(name, extras, frozenset(), ("url", url or "", ""), marker, shown)]
    entries: list[Any] = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(e, Mapping) for e in entries) or any("extra" in e or "group" in e for e in entries):
        return [_Req(name, (), frozenset(), ("unjudged",), "", shown)]
    out: list[_Req] = []
    covered: list[str] = []
    for entry in entries:
        lowered = _lower_source(name, entry, ctx)
        if lowered is None and url:
            lowered = ("url", url, "")
        source = lowered or ("registry",)
        spec = specifier if source[0] in ("registry", "index", "index?") else frozenset()
        condition = _norm_marker(str(entry.get("marker", "")))
        combined = _and(marker, condition)
        if condition and _same_marker(combined, _FALSE, SpecifierSet(ctx.requires_python)):
            continue  # the source never applies to this requirement
        out.append(_Req(name, extras, spec, source, combined, shown))
        covered.append(condition)
    if covered and all(covered):
        rest = _AND_NOT.join([marker, *covered])
        if not _same_marker(rest, _FALSE, SpecifierSet(ctx.requires_python)):
            out.append(_Req(name, extras, specifier, ("registry",), rest, shown))
    return out


def _lower_all(texts: Iterable[str], ctx: _Context, extra: str | None = None) -> list[_Req]:
    return [req for text in texts for req in _lower(text, ctx, extra)]


def _diff(
    expected: Sequence[_Req], actual: Sequence[_Req], requires_python: SpecifierSet
) -> tuple[list[str], list[str]]:
    """(added, removed) between two requirement sets, duplicates collapsed as uv's sets do."""
    unjudged = {r.name for r in expected if r.source == ("unjudged",)}
    if unjudged:
        expected = [r for r in expected if r.name not in unjudged]
        actual = [r for r in actual if r.name not in unjudged]
    want = {r[:5]: r for r in expected}
    have = {r[:5]: r for r in actual}
    if want.keys() == have.keys():
        return [], []
    unmatched: dict[tuple[Any, ...], list[_Req]] = {}
    for req in have.values():
        unmatched.setdefault(req.key, []).append(req)
    added = []
    for req in want.values():
        bucket = unmatched.get(req.key, [])
        for i, other in enumerate(bucket):
            if _same_marker(req.marker, other.marker, requires_python):
                del bucket[i]
                break
        else:
            added.append(_show(req))
    return added, [_show(r) for bucket in unmatched.values() for r in bucket]


def _change(what: str, added: Sequence[str], removed: Sequence[str]) -> str | None:
    if not added and not removed:
        return None
    parts = [f'added "{a}"' for a in added] + [f'removed "{r}"' for r in removed]
    return f"{what} changed: {', '.join(parts)}"


# ----------------------------------------------------------------------- the verdict


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _groups(manifest: Mapping[str, Any]) -> dict[str, list[str]]:
    """PEP 735 groups with ``include-group`` expanded, plus ``[tool.uv] dev-dependencies``
    merged into ``dev``: the groups uv records in ``requires-dev``."""
    raw = manifest.get("dependency-groups")
    raw = {canonicalize_name(str(k)): v for k, v in raw.items()} if isinstance(raw, Mapping) else {}

    def expand(group: str, seen: tuple[str, ...]) -> list[str]:
        out: list[str] = []
        for item in raw.get(group, []) or []:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, Mapping) and isinstance(item.get("include-group"), str):
                inner = canonicalize_name(item["include-group"])
                if inner not in seen:
                    out.extend(expand(inner, (*seen, inner)))
        return out

    groups = {g: expand(g, (g,)) for g in raw}
    dev = _table(manifest, "tool", "uv").get("dev-dependencies")
    if isinstance(dev, list):
        groups["dev"] = [*groups.get("dev", []), *_strings(dev)]
    return groups


def _locked_list(value: Any) -> list[_Req]:
    """Requirements of a lock array, from tomllib tables or :class:`_Raw` texts."""
    if not isinstance(value, list):
        return []
    return [
        _locked_req(e) if isinstance(e, _Raw) else _from_lock(e)
        for e in value
        if isinstance(e, (_Raw, Mapping))
    ]


class _Judge:
    """Collects reasons while comparing one lock with its manifests."""

    def __init__(self, lock: _Lock, lock_dir: str, manifests: Mapping[str, Mapping[str, Any]]) -> None:
        self.lock = lock
        self.lock_dir = lock_dir
        self.manifests = manifests
        self.reasons: list[str] = []
        rp = lock.requires_python
        try:
            self.requires_python = SpecifierSet(rp or "")
        except InvalidSpecifier:
            self.requires_python = SpecifierSet()
        root = manifests.get(lock_dir, {})
        self.root = root
        self.root_uv = _table(root, "tool", "uv")
        self.member_dirs = workspace_members(lock_dir, manifests)
        self.members: dict[str, str] = {
            str(canonicalize_name(str(_table(manifests[d], "project").get("name", "")))): d
            for d in self.member_dirs
        }
        self.root_sources = self._sources(root)
        self._required: dict[str, bool] | None = None

    def _sources(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        raw = _table(manifest, "tool", "uv", "sources")
        return {canonicalize_name(str(k)): v for k, v in raw.items()}

    def _indexes(self, manifest: Mapping[str, Any]) -> dict[str, str]:
        out: dict[str, str] = {}
        for m in (self.root, manifest):
            for entry in _table(m, "tool", "uv").get("index", []) or []:
                if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
                    out[entry["name"]] = str(entry.get("url", ""))
        return out

    def context(self, package_dir: str, member: bool) -> _Context:
        manifest = self.manifests[package_dir]
        sources = {**self.root_sources, **self._sources(manifest)} if member else self._sources(manifest)
        return _Context(
            package_dir,
            self.lock_dir,
            sources,
            self._indexes(manifest),
            self.members,
            str(self.requires_python),
            self._legacy_virtual(),
        )

    def _legacy_virtual(self) -> frozenset[str]:
        """Under uv 0.5's rules (a lock without ``revision``), a member is a package only
        by a build system or ``[tool.uv] package``; being required by another member did
        not make it one yet."""
        if self.lock.revision >= 1:
            return frozenset()
        return frozenset(name for name, d in self.members.items()
                         if not self._declared_package(self.manifests[d]))

    @staticmethod
    def _declared_package(manifest: Mapping[str, Any]) -> bool:
        flag = _table(manifest, "tool", "uv").get("package")
        return flag if isinstance(flag, bool) else "build-system" in manifest

    def reason(self, text: str | None) -> None:
        if text:
            self.reasons.append(text)

    # ---- lock-wide

    def lock_wide(self) -> None:
        lock = self.lock
        if lock.version != 1:
            self.reason(f"lock schema version {lock.version} is not the one uv writes (1)")
            return
        manifest = _table(lock.head, "manifest")
        has_workspace = bool(_table(self.root, "tool", "uv", "workspace"))
        non_project = not isinstance(self.root.get("project"), Mapping)
        expected_members = (
            sorted(self.members) if has_workspace and (len(self.members) > 1 or non_project) else []
        )
        actual_members = sorted(canonicalize_name(str(m)) for m in _strings(manifest.get("members")))
        if expected_members != actual_members:
            added = sorted(set(expected_members) - set(actual_members))
            removed = sorted(set(actual_members) - set(expected_members))
            self.reason(
                "workspace members changed: "
                + ", ".join([f"added {a}" for a in added] + [f"removed {r}" for r in removed])
            )
        self._requires_python()
        ctx = _Context(
            self.lock_dir,
            self.lock_dir,
            self.root_sources,
            self._indexes(self.root),
            self.members,
            str(self.requires_python),
        )
        for key, lock_key in (
            ("constraint-dependencies", "constraints"),
            ("override-dependencies", "overrides"),
            ("build-constraint-dependencies", "build-constraints"),
        ):
            expected = _lower_all(_strings(self.root_uv.get(key)), ctx)
            actual = _locked_list(manifest.get(lock_key))
            self.reason(_change(f"[tool.uv] {key}", *_diff(expected, actual, self.requires_python)))
        if non_project:
            groups = {g: _lower_all(rs, ctx) for g, rs in _groups(self.root).items() if rs}
            locked: dict[str, list[_Req]] = {
                canonicalize_name(str(g)): _locked_list(v)
                for g, v in _table(manifest, "dependency-groups").items()
            }
            self._compare_groups(
                "dependency groups of the workspace root", groups, {g: v for g, v in locked.items() if v}
            )
        options = _table(lock.head, "options")
        for key, (lock_key, default) in _OPTION_DEFAULTS.items():
            want = self.root_uv.get(key, default)
            have = options.get(lock_key, default)
            if want != have:
                self.reason(f"[tool.uv] {key} changed: {have} -> {want}")
        if ("exclude-newer" in self.root_uv) != ("exclude-newer" in options):
            self.reason("[tool.uv] exclude-newer was added or removed")

    def _requires_python(self) -> None:
        declared = [
            s
            for d in self.member_dirs
            if isinstance(s := _table(self.manifests[d], "project").get("requires-python"), str)
        ]
        if not declared or self.lock.requires_python is None:
            return
        try:
            expected = _python_range(",".join(declared))
            actual = _python_range(self.lock.requires_python)
        except (InvalidSpecifier, InvalidVersion):
            return
        if expected != actual:
            self.reason(
                f'requires-python changed: lock has "{self.lock.requires_python}", '
                f'the project{"s" if len(declared) > 1 else ""} declare "{",".join(declared)}"'
            )

    def _compare_groups(
        self, what: str, expected: Mapping[str, list[_Req]], actual: Mapping[str, list[_Req]]
    ) -> None:
        for group in sorted(set(expected) | set(actual)):
            if group not in actual:
                self.reason(f"{what}: group {group} added")
            elif group not in expected:
                self.reason(f"{what}: group {group} removed")
            else:
                self.reason(
                    _change(
                        f"{what}: group {group}", *_diff(expected[group], actual[group], self.requires_python)
                    )
                )

    # ---- local packages

    def local_package(self, name: str, package: Mapping[str, Any]) -> None:
        source = _table(package, "source")
        kind = next((k for k in _LOCAL_SOURCES if isinstance(source.get(k), str)), None)
        if kind is None:
            return
        directory = _join(self.lock_dir, str(source[kind]))
        member = self.members.get(name) == directory
        label = f"{name}" if member else f"path dependency {name} ({_relative(directory, self.lock_dir)})"
        manifest = self.manifests.get(directory)
        if manifest is None:
            if member:
                self.reason(f"{label}: no pyproject.toml in {directory or '.'}")
            return
        project = _table(manifest, "project")
        if not project:
            return
        if canonicalize_name(str(project.get("name", ""))) != name:
            self.reason(f"{label}: the project in {directory or '.'} is now {project.get('name')}")
            return
        if member:
            self._member_kind(name, manifest, kind, label)
        self._version(project, package, label)
        dynamic = set(_strings(project.get("dynamic")))
        if {"dependencies", "optional-dependencies"} & dynamic:
            return  # uv would build the package to know; not judged here
        metadata = _table(package, "metadata")
        if not metadata and self.lock.revision >= 4:
            return  # uv >= 0.8 may omit metadata; it then compares resolved edges
        ctx = self.context(directory, member)
        expected = _lower_all(_strings(project.get("dependencies")), ctx)
        optional = _table(project, "optional-dependencies")
        for extra, reqs in optional.items():
            expected.extend(_lower_all(_strings(reqs), ctx, extra=str(extra)))
        actual = _locked_list(metadata.get("requires-dist"))
        self.reason(_change(f"requires-dist of {label}", *_diff(expected, actual, self.requires_python)))
        if (self.lock.version, self.lock.revision) >= (1, 1):
            want = sorted({canonicalize_name(str(e)) for e in optional})
            have = sorted({canonicalize_name(str(e)) for e in _strings(metadata.get("provides-extras"))})
            if want != have:
                self.reason(f"extras of {label} changed: {have or '[]'} -> {want or '[]'}")
        keep_empty = (self.lock.version, self.lock.revision) >= (1, 1)
        groups = {g: _lower_all(rs, ctx) for g, rs in _groups(manifest).items() if rs or keep_empty}
        locked: dict[str, list[_Req]] = {
            canonicalize_name(str(g)): _locked_list(v)
            for g, v in _table(metadata, "requires-dev").items()
        }
        locked = {g: v for g, v in locked.items() if v or keep_empty}
        self._compare_groups(f"dependency groups of {label}", groups, locked)

    def _required_members(self) -> dict[str, bool]:
        """Members that another member requires through ``{ workspace = true }``, mapped
        to whether that makes them editable (unless a source says ``editable = false``)."""
        if self._required is None:
            self._required = {}
            for d in self.member_dirs if len(self.member_dirs) > 1 else ():
                manifest = self.manifests[d]
                sources = {**self.root_sources, **self._sources(manifest)}
                project = _table(manifest, "project")
                texts = _strings(project.get("dependencies"))
                for reqs in _table(project, "optional-dependencies").values():
                    texts += _strings(reqs)
                for reqs in _groups(manifest).values():
                    texts += reqs
                for text in texts:
                    name = _safe_name(text)
                    entry = sources.get(name or "")
                    if (
                        name in self.members
                        and self.members[name] != d
                        and isinstance(entry, Mapping)
                        and entry.get("workspace") is True
                    ):
                        editable = entry.get("editable", True) is not False
                        self._required[name] = self._required.get(name, False) or editable
        return self._required

    def _member_kind(self, name: str, manifest: Mapping[str, Any], kind: str, label: str) -> None:
        """Virtual or editable, decided as uv's ``is_package``: ``[tool.uv] package`` if set,
        else a build system; a member another member requires is a package regardless,
        editable unless that source says ``editable = false``."""
        required = self._required_members().get(name)
        if name in self._legacy_virtual():
            required = None
        package_flag = _table(manifest, "tool", "uv").get("package")
        if isinstance(package_flag, bool):
            is_package = package_flag
        else:
            is_package = "build-system" in manifest or required is not None
        want = "virtual" if not is_package else ("directory" if required is False else "editable")
        if kind != want:
            self.reason(f"{label} is now {want}, the lock has it {kind}")

    def _version(self, project: Mapping[str, Any], package: Mapping[str, Any], label: str) -> None:
        dynamic = "version" in _strings(project.get("dynamic"))
        locked = package.get("version")
        declared = project.get("version")
        if dynamic:
            if locked is not None:
                self.reason(f"{label}: version became dynamic")
            return
        if not isinstance(declared, str):
            return
        if locked is None:
            self.reason(f"{label}: version is now static ({declared})")
            return
        try:
            same = Version(declared) == Version(str(locked))
        except InvalidVersion:
            same = declared == locked
        if not same:
            self.reason(f"version of {label} changed: {locked} -> {declared}")

    def members_missing(self) -> None:
        for name, directory in sorted(self.members.items()):
            if name not in self.lock.local:
                self.reason(f"{name} ({directory or '.'}) is not in the lock")


def _safe_name(text: str) -> str | None:
    try:
        return _pep508(text)[0]
    except InvalidRequirement:
        return None


def freshness(lock_text: str, lock_dir: str, manifests: Mapping[str, Mapping[str, Any]]) -> UvFreshness:
    """Judge the uv.lock in ``lock_dir`` (repository-relative, ``""`` for the root)
    against ``manifests`` (every known package directory -> parsed pyproject.toml).

    Pure: reads nothing but its arguments. Raises :class:`~lockfix.errors.MalformedToml`
    when the parts of the lock it reads are not TOML, :class:`LockfixError` when the
    text is not a uv lock or a pyproject requirement cannot be parsed."""
    where = posixpath.join(lock_dir, "uv.lock") if lock_dir else "uv.lock"
    lock = _read_lock(lock_text, where)
    judge = _Judge(lock, lock_dir, manifests)
    if lock_dir not in manifests:
        return UvFreshness(False, (f"no pyproject.toml next to {where}",))
    judge.lock_wide()
    if lock.version == 1:
        judge.members_missing()
        for name, package in lock.local.items():
            judge.local_package(name, package)
    reasons = tuple(dict.fromkeys(judge.reasons))
    return UvFreshness(not reasons, reasons)
