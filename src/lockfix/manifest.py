"""Three-way merge of ``pyproject.toml`` at the TOML level.

git merges manifests line by line, which goes wrong in the ways that matter here: two
branches adding dependencies on adjacent lines conflict, and two branches adding the
same table in different places merge "cleanly" into a file with a duplicate table.
This module merges the *data* instead, key by key, and then writes the result into
ours' document so that ours' comments, key order and layout survive.

It works in three steps, which keeps the semantics apart from tomlkit's layout quirks:

1. **merge** the parsed data of base/ours/theirs into a plain target value (``_Merger``),
   recording every true clash and how the policy settled it;
2. **patch** ours' tomlkit document until its data equals the target, editing as little
   as possible and borrowing theirs' items (with their comments) for what theirs added
   (``_Patcher``);
3. **verify** that the text reads back as exactly the target; if tomlkit mangled
   something, patch theirs' document instead, and as a last resort write the target
   plainly. The result is therefore always valid TOML with the merged data.

A side that tomlkit refuses although it is valid TOML (it does for a few table orders)
is merged from the strict reader's data; only that side's layout is lost.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Union

import tomlkit
from packaging.utils import canonicalize_name
from tomlkit.container import Container, OutOfOrderTableProxy
from tomlkit.exceptions import ParseError
from tomlkit.items import AbstractTable, AoT, Array, InlineTable, Item, Key, SingleKey, Table
from tomlkit.items import Whitespace as TomlWhitespace
from tomlkit.toml_document import TOMLDocument

from lockfix.errors import MalformedToml, MergeClash
from lockfix.policies import DEFAULT_MANIFEST_POLICY, NEWER_FALLBACK, ManifestPolicy
from lockfix.toml import load_toml, number_or_bool

__all__ = ["Clash", "ManifestMerge", "Policy", "merge_manifest"]

Policy = ManifestPolicy

_HINT = "resolve pyproject.toml by hand or rerun with --manifest-policy newer/theirs/ours"
_SHOW_LIMIT = 80


@dataclass(frozen=True)
class Clash:
    """Both sides changed one value differently; ``chosen`` says which side won and
    ``reason`` why (``newer: ^0.11.5 > ^0.11.4``, ``manifest-policy ours``, ...)."""

    path: str
    base: str | None
    ours: str | None
    theirs: str | None
    chosen: str
    reason: str = ""

    def note(self) -> str:
        """One line for the user: where, which side, why."""
        why = f" ({self.reason})" if self.reason else ""
        return f"pyproject clash at {self.path}: took {self.chosen}{why}"


@dataclass(frozen=True)
class ManifestMerge:
    """The merged document and the clashes settled on the way."""

    text: str
    clashes: tuple[Clash, ...]


def merge_manifest(
    base: str | None,
    ours: str,
    theirs: str,
    policy: Policy = DEFAULT_MANIFEST_POLICY,
    *,
    where: str = "pyproject.toml",
) -> ManifestMerge:
    """Merge theirs' changes (relative to ``base``) into ours.

    ``base`` is None when only the two sides are known (a file split at its conflict
    markers): then whatever one side has and the other lacks is kept.

    Clashes are settled by ``policy``: ``newer`` gives a dependency-constraint clash to
    the side whose constraint starts at the newer version (``lockfix.constraints``) and
    everything else to theirs; ``theirs``/``ours`` always take that side; ``fail`` raises
    MergeClash listing them all. Two rules hold whichever side a policy favours (and
    are clashes that ``fail`` fails on): a table one side deleted stays deleted (the
    other side's edits inside it are reported, not applied), and a package both sides
    added to *different* dependency tables is kept in one of them only (``_cross_table``).
    """
    base_data: dict[str, Any] = {} if base is None else _parse(base, where, "base")[1]
    ours_doc, ours_data = _parse(ours, where, "ours")
    theirs_doc, theirs_data = _parse(theirs, where, "theirs")
    if ours == theirs or theirs == base:
        return ManifestMerge(text=ours, clashes=())
    if ours == base:
        return ManifestMerge(text=theirs, clashes=())

    merger = _Merger(policy)
    ours_in, theirs_in = ours_data, theirs_data
    if base is not None:
        ours_in, theirs_in = _cross_table(base_data, ours_data, theirs_data, merger)
    target = merger.value(base_data, ours_in, theirs_in, _Path.root())
    clashes = tuple(merger.clashes)
    if policy == "fail" and clashes:
        paths = ", ".join(c.path for c in clashes)
        raise MergeClash(
            f"{where}: both sides changed the same value differently: {paths}", hint=_HINT
        )
    if not isinstance(target, dict):  # pragma: no cover - a document is always a table
        target = ours_data
    if _same(target, ours_data):
        return ManifestMerge(text=ours, clashes=clashes)
    text = _render(target, (ours_doc, theirs_doc), (ours, theirs), where)
    return ManifestMerge(text=text, clashes=clashes)


# --------------------------------------------------------------------------- parsing

_POSITION = re.compile(r"\s+at line \d+ col \d+\s*$")


def _parse(text: str, where: str, side: str) -> tuple[TOMLDocument | None, dict[str, Any]]:
    """(document, data); every failure, also one at unwrap time (out-of-order tables
    are validated when read), becomes MalformedToml.

    tomlkit rejects a few valid layouts (seen: ``[tool.poetry.a]``, ``[tool]``,
    ``[tool.poetry.b]`` in that order). The strict reader still gets the data of such a
    side, which then merges normally; only its layout cannot be reused (document None).
    """
    label = f"{where} ({side})"
    try:
        doc = tomlkit.parse(text)
        return doc, doc.unwrap()
    except ParseError as exc:
        error = MalformedToml(label, _POSITION.sub("", str(exc)), exc.line, exc.col)
    except Exception as exc:  # tomlkit raises assorted types for semantic errors
        error = MalformedToml(label, str(exc) or type(exc).__name__)
    try:
        return None, load_toml(text, label)
    except MalformedToml:
        raise error from None


# ------------------------------------------------------------------ value identity


class _Missing:
    """An absent key or element (distinct from every TOML value)."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _canon(value: Any) -> Hashable:
    """A hashable identity that compares like TOML values do.

    Plain ``==`` would call ``1``, ``1.0`` and ``true`` equal and ``nan`` unequal to
    itself; here types matter, floats compare by spelling, and key order does not.
    """
    if value is _MISSING:
        return ("missing",)
    if isinstance(value, Mapping):
        return ("table", tuple(sorted((str(k), _canon(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("array", tuple(_canon(v) for v in value))
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", int(value))
    if isinstance(value, float):
        return ("float", repr(float(value)))
    if isinstance(value, str):
        return ("str", str(value))
    if isinstance(value, (datetime, date, time)):
        return (type(value).__name__, value.isoformat())
    return ("other", repr(value))


def _same(a: Any, b: Any) -> bool:
    return _canon(a) == _canon(b)


# ------------------------------------------------------------------------- paths

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _show_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


@dataclass(frozen=True)
class _Path:
    """Where a value sits: table keys from the root (``"[]"`` = inside an array element)
    for recognising dependency tables, and a label for clash reports."""

    keys: tuple[str, ...]
    label: str

    @classmethod
    def root(cls) -> _Path:
        return cls((), "")

    def key(self, key: str) -> _Path:
        shown = _show_key(key)
        return _Path((*self.keys, key), f"{self.label}.{shown}" if self.label else shown)

    def element(self, tag: str) -> _Path:
        return _Path((*self.keys, "[]"), f"{self.label}[{tag}]")


_POETRY_MAIN = ("tool", "poetry", "dependencies")
_UV_ARRAYS = frozenset({"dev-dependencies", "constraint-dependencies", "override-dependencies",
                        "build-constraint-dependencies"})
_UV_GLOBS = frozenset({("tool", "uv", "workspace", "members"),
                       ("tool", "uv", "workspace", "exclude")})


def _is_poetry_dependency_table(keys: tuple[str, ...]) -> bool:
    """Poetry's ``name = constraint`` tables: main, legacy dev, and each group's."""
    if keys in {_POETRY_MAIN, ("tool", "poetry", "dev-dependencies")}:
        return True
    return len(keys) == 5 and keys[:3] == ("tool", "poetry", "group") and keys[4] == "dependencies"


def _folds_names(keys: tuple[str, ...]) -> bool:
    """Tables whose keys are package (or extra/group) names: ``Requests`` == ``requests``."""
    if keys in {
        ("project", "optional-dependencies"),
        ("dependency-groups",),
        ("tool", "uv", "sources"),
    }:
        return True
    return _is_poetry_dependency_table(keys)


def _is_dependency_array(keys: tuple[str, ...]) -> bool:
    """Arrays of PEP 508 strings, merged per package rather than per position."""
    if keys in {("project", "dependencies"), ("build-system", "requires")}:
        return True
    if len(keys) == 3 and keys[:2] == ("project", "optional-dependencies"):
        return True
    if len(keys) == 3 and keys[:2] == ("tool", "uv") and keys[2] in _UV_ARRAYS:
        return True
    return len(keys) == 2 and keys[0] == "dependency-groups"


def _constraint_kind(keys: tuple[str, ...]) -> str | None:
    """Does a clash at ``keys`` concern a dependency constraint, and in which grammar:
    ``pep508`` (an element of a dependency array), ``poetry`` (a value in a Poetry
    dependency table, or the ``version`` of a table-form one), None (anything else,
    including Poetry's ``python`` requirement)."""
    if keys and keys[-1] == "[]" and _is_dependency_array(keys[:-1]):
        return "pep508"
    if len(keys) >= 2 and keys[-1] == "version" and _is_poetry_dependency_table(keys[:-2]):
        keys = keys[:-1]
    if keys and _is_poetry_dependency_table(keys[:-1]):
        if keys[:-1] == _POETRY_MAIN and keys[-1].lower() == "python":
            return None
        return "poetry"
    return None


def _is_container(keys: tuple[str, ...]) -> bool:
    """A table that holds settings or other tables (``[tool.poetry]``, a group), as
    opposed to one that is a single value: a dependency's spec, a uv source, an
    element of an array of tables."""
    if "[]" in keys:
        return False
    return not any(_folds_names(keys[:i]) for i in range(len(keys)))


# ------------------------------------------------------------------- element keys

_NAME_END = re.compile(r"[ <>=!~;\[(@]")
_ElementKey = tuple[str, ...]


def _requirement_key(entry: Any) -> _ElementKey:
    """(kind, normalized name, marker): the identity of a dependency-array entry."""
    if isinstance(entry, str):
        # imported here: its grammar costs ~40 ms, which the merge driver (a process per
        # file) should pay only for PEP 508 arrays
        from packaging.requirements import InvalidRequirement, Requirement

        try:
            req = Requirement(entry)
        except InvalidRequirement:
            text = entry.strip()
            head = _NAME_END.split(text, maxsplit=1)[0]
            marker = text.split(";", 1)[1].strip() if ";" in text else ""
            return ("req", canonicalize_name(head) if head else text, marker)
        return ("req", canonicalize_name(req.name), str(req.marker) if req.marker else "")
    if isinstance(entry, Mapping) and isinstance(entry.get("include-group"), str):
        return ("include-group", canonicalize_name(entry["include-group"]))
    return ("value", repr(_canon(entry)))


def _name_key(entry: Any) -> _ElementKey:
    return ("name", str(entry["name"]))


def _uv_index_key(entry: Any) -> _ElementKey:
    """``[[tool.uv.index]]`` entries are known by ``name`` (optional in uv), else ``url``."""
    if isinstance(entry, Mapping):
        if isinstance(entry.get("name"), str):
            return ("name", entry["name"])
        if isinstance(entry.get("url"), str):
            return ("url", entry["url"])
    return _value_key(entry)


def _value_key(entry: Any) -> _ElementKey:
    return ("value", repr(_canon(entry)))


def _all_named(lists: Iterable[Sequence[Any]]) -> bool:
    """Arrays of tables that each carry a distinct ``name`` (``[[tool.poetry.source]]``)."""
    seen_any = False
    for items in lists:
        names = set()
        for entry in items:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                return False
            if entry["name"] in names:
                return False
            names.add(entry["name"])
            seen_any = True
    return seen_any


def _element_key_fn(
    keys: tuple[str, ...], lists: Sequence[Sequence[Any]]
) -> Callable[[Any], _ElementKey] | None:
    """How array elements are matched across sides; None = as a plain sequence."""
    if _is_dependency_array(keys) and all(
        isinstance(e, (str, Mapping)) for items in lists for e in items
    ):
        return _requirement_key
    if keys == ("tool", "uv", "index") and all(
        isinstance(e, Mapping) for items in lists for e in items
    ):
        return _uv_index_key
    if _all_named(lists):
        return _name_key
    return None


def _tag(key: _ElementKey, occurrence: int, sample: Any) -> str:
    """The bracketed part of a clash path for an array element: its package, group or
    source name, else (a short rendering of) the element itself."""
    if key[0] == "req":
        text = key[1] + (f"; {key[2]}" if key[2] else "")
    elif key[0] == "include-group":
        text = f"include-group={key[1]}"
    elif key[0] in ("name", "url"):
        text = key[1]
    else:
        text = _show(sample) or ""
    return text if occurrence == 0 else f"{text}#{occurrence + 1}"


def _index(items: Sequence[Any], key_fn: Callable[[Any], _ElementKey]) -> dict[Any, Any]:
    """Elements by (key, occurrence), so that repeated keys stay distinct."""
    seen: Counter[_ElementKey] = Counter()
    out: dict[Any, Any] = {}
    for entry in items:
        key = key_fn(entry)
        out[(key, seen[key])] = entry
        seen[key] += 1
    return out


def _weave(ours: Sequence[Any], theirs: Sequence[Any], keep: Iterable[Any]) -> list[Any]:
    """Ours' order, with theirs' additions placed after whatever precedes them in theirs
    (before whatever follows them when nothing precedes; at the end otherwise)."""
    kept = set(keep)
    result = [k for k in ours if k in kept]
    placed = set(result)
    for i, key in enumerate(theirs):
        if key in placed or key not in kept:
            continue
        pos: int | None = None
        for before in reversed(theirs[:i]):
            if before in placed:
                pos = result.index(before) + 1
                break
        if pos is None:
            for after in theirs[i + 1 :]:
                if after in placed:
                    pos = result.index(after)
                    break
        result.insert(len(result) if pos is None else pos, key)
        placed.add(key)
    return result


def _unique(*groups: Iterable[Any]) -> list[Any]:
    out: dict[Any, None] = {}
    for group in groups:
        for item in group:
            out.setdefault(item, None)
    return list(out)


# --------------------------------------------------------------- clash rendering


def _show(value: Any) -> str | None:
    """A short TOML-like rendering for clash reports (None = absent)."""
    if value is _MISSING:
        return None
    text = _show_full(value)
    return text if len(text) <= _SHOW_LIMIT else text[: _SHOW_LIMIT - 3] + "..."


def _show_full(value: Any) -> str:
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_show_key(str(k))} = {_show_full(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show_full(v) for v in value) + "]"
    scalar = number_or_bool(value)
    if scalar is not None:
        return scalar
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value)


# ------------------------------------------------------------ step 1: the merge


class _Merger:
    """Three-way merge of plain data; the result's dict order is the layout to aim for."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.clashes: list[Clash] = []

    def value(self, base: Any, ours: Any, theirs: Any, path: _Path) -> Any:
        """The merged value, or _MISSING when the key/element goes away."""
        if _same(ours, theirs):
            return ours
        if _same(base, ours):
            return theirs
        if _same(base, theirs):
            return ours
        if (isinstance(base, Mapping) and (ours is _MISSING) != (theirs is _MISSING)
                and _is_container(path.keys)):
            kept = theirs if ours is _MISSING else ours
            if isinstance(kept, Mapping):
                self.deleted(base, kept, path, "ours" if ours is _MISSING else "theirs", path)
                return _MISSING
        if isinstance(ours, Mapping) and isinstance(theirs, Mapping):
            return self.table(base if isinstance(base, Mapping) else {}, ours, theirs, path)
        if isinstance(ours, list) and isinstance(theirs, list):
            return self.array(base if isinstance(base, list) else [], ours, theirs, path)
        return self.clash(base, ours, theirs, path)

    def clash(self, base: Any, ours: Any, theirs: Any, path: _Path) -> Any:
        kind = _constraint_kind(path.keys)
        chosen, reason = self.settle(ours, theirs, None if kind is None else (kind, kind))
        self.clashes.append(
            Clash(path.label, _show(base), _show(ours), _show(theirs), chosen, reason)
        )
        return ours if chosen == "ours" else theirs

    def settle(self, ours: Any, theirs: Any, kinds: tuple[str, str] | None) -> tuple[str, str]:
        """(side, why) for a clash between two values; ``kinds`` says in which grammar
        each side's value is a dependency constraint (None: not a dependency)."""
        if self.policy in ("ours", "theirs"):
            return self.policy, f"manifest-policy {self.policy}"
        if self.policy == "fail":
            return "theirs", "manifest-policy fail"
        if kinds is None:
            return NEWER_FALLBACK, f"not a dependency constraint: {NEWER_FALLBACK} by default"
        verdict = _newer(kinds, ours, theirs)
        if verdict.winner is not None:
            return verdict.winner, verdict.why
        return NEWER_FALLBACK, f"not clearly newer, {verdict.why}: {NEWER_FALLBACK} by default"

    def deleted(self, base: Mapping[str, Any], kept: Mapping[str, Any], path: _Path,
                deleter: str, top: _Path) -> None:
        """One side deleted the table ``top``, the other edited inside it. The deletion
        stands (bringing back a whole legacy table for a one-line edit is never what
        was meant); each edit is reported as a clash at the deepest key it touched."""
        fold: Callable[[str], str] = canonicalize_name if _folds_names(path.keys) else str
        b_keys = {fold(k): k for k in base}
        k_keys = {fold(k): k for k in kept}
        for folded in _unique(k_keys, b_keys):
            b = base[b_keys[folded]] if folded in b_keys else _MISSING
            k = kept[k_keys[folded]] if folded in k_keys else _MISSING
            if k is _MISSING or _same(b, k):
                continue  # removed or untouched by the other side too
            child = path.key(k_keys[folded])
            if isinstance(b, Mapping) and isinstance(k, Mapping) and _is_container(child.keys):
                self.deleted(b, k, child, deleter, top)
                continue
            ours, theirs = (_MISSING, k) if deleter == "ours" else (k, _MISSING)
            self.clashes.append(Clash(
                child.label, _show(b), _show(ours), _show(theirs), deleter,
                f"{deleter} deleted {top.label}; the edit inside it is dropped",
            ))

    def table(
        self, base: Mapping[str, Any], ours: Mapping[str, Any], theirs: Mapping[str, Any],
        path: _Path,
    ) -> dict[str, Any]:
        fold: Callable[[str], str] = canonicalize_name if _folds_names(path.keys) else str
        sides = [_fold_keys(side, fold) for side in (base, ours, theirs)]
        if any(side is None for side in sides):  # two keys of one side fold together
            sides = [_fold_keys(side, str) for side in (base, ours, theirs)]
        b_keys, o_keys, t_keys = (side or {} for side in sides)

        merged: dict[str, tuple[str, Any]] = {}
        for folded in _unique(o_keys, t_keys, b_keys):
            b_raw, o_raw, t_raw = b_keys.get(folded), o_keys.get(folded), t_keys.get(folded)
            spelled = next(k for k in (o_raw, t_raw, b_raw, folded) if k is not None)
            value = self.value(
                _MISSING if b_raw is None else base[b_raw],
                _MISSING if o_raw is None else ours[o_raw],
                _MISSING if t_raw is None else theirs[t_raw],
                path.key(spelled),
            )
            if value is _MISSING:
                continue
            if o_raw is not None and t_raw is not None and o_raw == b_raw:
                spelled = t_raw  # only theirs respelled the key
            merged[folded] = (spelled, value)
        order = _weave(list(o_keys), list(t_keys), merged)
        return {merged[k][0]: merged[k][1] for k in order}

    def array(
        self, base: list[Any], ours: list[Any], theirs: list[Any], path: _Path
    ) -> list[Any]:
        if path.keys in _UV_GLOBS and all(
            isinstance(e, str) for side in (base, ours, theirs) for e in side
        ):
            return _merge_set(base, ours, theirs)
        key_fn = _element_key_fn(path.keys, (base, ours, theirs))
        if key_fn is None:
            return _merge_sequence(base, ours, theirs)
        b_idx, o_idx, t_idx = (_index(side, key_fn) for side in (base, ours, theirs))
        merged: dict[Any, Any] = {}
        for ident in _unique(o_idx, t_idx, b_idx):
            b, o, t = (idx.get(ident, _MISSING) for idx in (b_idx, o_idx, t_idx))
            key, occurrence = ident
            tag = _tag(key, occurrence, next(v for v in (t, o, b) if v is not _MISSING))
            value = self.value(b, o, t, path.element(tag))
            if value is not _MISSING:
                merged[ident] = value
        return [merged[k] for k in _weave(list(o_idx), list(t_idx), merged)]


def _fold_keys(table: Mapping[str, Any], fold: Callable[[str], str]) -> dict[str, str] | None:
    """folded key -> key as written; None when two keys fold to the same name."""
    out: dict[str, str] = {}
    for key in table:
        folded = fold(key)
        if folded in out:
            return None
        out[folded] = key
    return out


def _merge_set(base: list[str], ours: list[str], theirs: list[str]) -> list[str]:
    """Arrays that mean a set (uv workspace globs): ours' order without what theirs
    removed, then theirs' additions; no duplicates."""
    gone = {v for v in base if v not in theirs}
    result = [v for v in dict.fromkeys(ours) if v not in gone]
    result += [v for v in dict.fromkeys(theirs) if v not in base and v not in result]
    return result


def _newer(kinds: tuple[str, str], ours: Any, theirs: Any) -> Any:
    """``lockfix.constraints.newer`` on two clashing values (imported only when needed:
    poetry-core's grammar is not free, and most merges have no clash)."""
    from lockfix import constraints

    specs = [
        "removed it" if value is _MISSING
        else constraints.pep508_spec(value) if kind == "pep508"
        else constraints.poetry_spec(value)
        for kind, value in zip(kinds, (ours, theirs))
    ]
    return constraints.newer(specs[0], specs[1])


# ---------------------------------------------------- same package, different tables


@dataclass(frozen=True)
class _Dep:
    """One dependency declaration: in which logical table (Poetry's main table and
    ``[project] dependencies`` are both "main"; a Poetry group, a PEP 735 group and
    uv's dev-dependencies are "group:<name>"), where exactly, and its value."""

    table: str
    keys: tuple[str, ...]
    path: _Path
    value: Any
    kind: str  # "poetry" (a table entry) or "pep508" (an array element)


def _dependencies(data: Mapping[str, Any]) -> dict[str, list[_Dep]]:
    """Every dependency declaration of a document, by canonical package name."""
    out: dict[str, list[_Dep]] = {}

    def get(keys: tuple[str, ...]) -> Any:
        node: Any = data
        for key in keys:
            node = node.get(key) if isinstance(node, Mapping) else None
        return node

    def table(keys: tuple[str, ...], logical: str) -> None:
        found = get(keys)
        if not isinstance(found, Mapping):
            return
        path = _Path(keys, ".".join(_show_key(k) for k in keys))
        for name, value in found.items():
            if keys == _POETRY_MAIN and name.lower() == "python":
                continue
            dep = _Dep(logical, keys, path.key(name), value, "poetry")
            out.setdefault(canonicalize_name(name), []).append(dep)

    def array(keys: tuple[str, ...], logical: str) -> None:
        found = get(keys)
        if not isinstance(found, list):
            return
        path = _Path(keys, ".".join(_show_key(k) for k in keys))
        for entry in found:
            key = _requirement_key(entry)
            if key[0] == "req":
                dep = _Dep(logical, keys, path.element(key[1]), entry, "pep508")
                out.setdefault(key[1], []).append(dep)

    table(_POETRY_MAIN, "main")
    table(("tool", "poetry", "dev-dependencies"), "group:dev")
    groups = get(("tool", "poetry", "group"))
    for group in groups if isinstance(groups, Mapping) else ():
        table(("tool", "poetry", "group", group, "dependencies"), f"group:{canonicalize_name(group)}")
    array(("project", "dependencies"), "main")
    extras = get(("project", "optional-dependencies"))
    for extra in extras if isinstance(extras, Mapping) else ():
        array(("project", "optional-dependencies", extra), f"extra:{canonicalize_name(extra)}")
    pep735 = get(("dependency-groups",))
    for group in pep735 if isinstance(pep735, Mapping) else ():
        array(("dependency-groups", group), f"group:{canonicalize_name(group)}")
    array(("tool", "uv", "dev-dependencies"), "group:dev")
    return out


def _cross_table(
    base: Mapping[str, Any], ours: dict[str, Any], theirs: dict[str, Any], merger: _Merger
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Settle packages that both sides added, with different constraints, to different
    dependency tables (ours to the main dependencies, theirs to the dev group): merged
    table by table both would stay, and Poetry refuses the result ("Incompatible
    constraints"). The policy picks one side's addition; the other is dropped from a
    copy of that side before the real merge. Returns the (possibly copied) sides."""
    b_deps, o_deps, t_deps = (_dependencies(side) for side in (base, ours, theirs))
    sides = {"ours": ours, "theirs": theirs}
    copied: set[str] = set()
    for name in sorted(o_deps.keys() & t_deps.keys()):
        in_base = {d.table for d in b_deps.get(name, [])}
        o_added = [d for d in o_deps[name] if d.table not in in_base]
        t_added = [d for d in t_deps[name] if d.table not in in_base]
        if not o_added or not t_added:
            continue
        if {d.table for d in o_added} & {d.table for d in t_added}:
            continue  # also added to a common table: that is an ordinary clash there
        if {_dep_identity(d) for d in o_added} == {_dep_identity(d) for d in t_added}:
            continue  # the same constraint in two tables is what both meant
        o, t = o_added[0], t_added[0]
        chosen, reason = merger.settle(o.value, t.value, (o.kind, t.kind))
        merger.clashes.append(Clash(
            f"{o.path.label} (ours) / {t.path.label} (theirs)", None, _show(o.value),
            _show(t.value), chosen, f"both added it, to different tables; {reason}",
        ))
        loser = "theirs" if chosen == "ours" else "ours"
        if loser not in copied:
            sides[loser] = copy.deepcopy(sides[loser])
            copied.add(loser)
        for dep in o_added if loser == "ours" else t_added:
            _drop(sides[loser], base, dep.keys, name)
    return sides["ours"], sides["theirs"]


def _dep_identity(dep: _Dep) -> Hashable:
    """A dependency's constraint as a comparable value (``"^1"`` == ``{version = "^1"}``)."""
    if dep.kind == "poetry":
        value = {"version": dep.value} if isinstance(dep.value, str) else dep.value
        return ("poetry", _canon(value))
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(dep.value)
    except InvalidRequirement:
        return ("pep508", dep.value)
    return ("pep508", tuple(sorted(req.extras)), str(req.specifier), str(req.marker), req.url)


def _drop(data: dict[str, Any], base: Mapping[str, Any], keys: tuple[str, ...], name: str) -> None:
    """Remove package ``name`` from the table or array at ``keys``; then remove the
    containers that this leaves empty and that base did not have (a group theirs
    created only for that package)."""
    chain: list[Any] = [data]
    for key in keys:
        chain.append(chain[-1][key])
    holder = chain[-1]
    if isinstance(holder, dict):
        for key in [k for k in holder if canonicalize_name(k) == name]:
            del holder[key]
    else:
        holder[:] = [e for e in holder if _requirement_key(e)[:2] != ("req", name)]
    for depth in range(len(keys), 0, -1):
        node, parent = chain[depth], chain[depth - 1]
        base_node: Any = base
        for key in keys[:depth]:
            base_node = base_node.get(key, _MISSING) if isinstance(base_node, Mapping) else _MISSING
        if node or base_node is not _MISSING:
            break
        del parent[keys[depth - 1]]


def _merge_sequence(base: list[Any], ours: list[Any], theirs: list[Any]) -> list[Any]:
    """Element-wise merge of a plain array: ours minus what theirs removed, plus what
    theirs added (placed after the element that precedes it in theirs)."""
    b_ids = [_canon(v) for v in base]
    o_ids = [_canon(v) for v in ours]
    t_ids = [_canon(v) for v in theirs]
    removed = Counter(b_ids) - Counter(t_ids)
    added = Counter(t_ids) - Counter(b_ids)
    added_by_ours = Counter(o_ids) - Counter(b_ids)

    result: list[tuple[Hashable, Any]] = []
    for ident, value in zip(o_ids, ours):
        if removed[ident] > 0:
            removed[ident] -= 1
            continue
        result.append((ident, value))

    cursor = 0
    for ident, value in zip(t_ids, theirs):
        if added[ident] > 0:
            added[ident] -= 1
            if added_by_ours[ident] > 0:  # both added it: it is an anchor, not an addition
                added_by_ours[ident] -= 1
            else:
                result.insert(cursor, (ident, value))
                cursor += 1
                continue
        pos = _find(result, ident, cursor)
        if pos is not None:
            cursor = pos + 1
    return [value for _, value in result]


def _find(items: list[tuple[Hashable, Any]], ident: Hashable, start: int) -> int | None:
    """First position of ``ident`` at or after ``start``, else anywhere, else None."""
    for i in range(start, len(items)):
        if items[i][0] == ident:
            return i
    for i in range(min(start, len(items))):
        if items[i][0] == ident:
            return i
    return None


# ------------------------------------------------------------ step 2: the patch

_Tableish = Union[Container, AbstractTable, OutOfOrderTableProxy]


def _is_tableish(value: Any) -> bool:
    return isinstance(value, (Container, AbstractTable, OutOfOrderTableProxy))


def _data(value: Any) -> Any:
    """Plain data of a tomlkit item (or of a plain value tomlkit handed out)."""
    unwrap = getattr(value, "unwrap", None)
    return unwrap() if callable(unwrap) else value


def _child(table: _Tableish, key: str) -> Any:
    """The item under ``key`` (a proxy for a table split over several headers)."""
    if isinstance(table, (Container, AbstractTable)):
        return table.item(key)
    return table[key]


def _body_of(table: _Tableish) -> Container | None:
    if isinstance(table, Container):
        return table
    if isinstance(table, AbstractTable):
        return table.value
    return None


def _written_key(table: _Tableish | None, key: str) -> Key | None:
    """The Key object as ``table`` wrote it (dotted or not, quoting); None if unknown."""
    body = None if table is None else _body_of(table)
    if body is None:
        return None
    index = body._map.get(SingleKey(key))
    if not isinstance(index, int):
        return None
    found = body.body[index][0]
    return copy.deepcopy(found) if found is not None else None


def _is_dotted(table: _Tableish, key: str) -> bool:
    """Is ``key`` written as a dotted key (``key.sub = ...``) in ``table``?"""
    body = _body_of(table)
    bodies = [body] if body is not None else [
        part.value for part in getattr(table, "_tables", []) if isinstance(part, Table)
    ]
    for container in bodies:
        index = container._map.get(SingleKey(key))
        for i in (index,) if isinstance(index, int) else index or ():
            found = container.body[i][0]
            if found is not None and found.is_dotted():
                return True
    return False


def _is_header(key: Key | None, item: Any) -> bool:
    """Does this entry render with its own ``[header]`` (rather than as ``key = value``)?"""
    if isinstance(item, AoT):
        return True
    return isinstance(item, Table) and not (key is not None and key.is_dotted())


def _build(value: Any, inline: bool) -> Item:
    """A fresh tomlkit item for plain data (only used when no side has one to copy)."""
    if isinstance(value, Mapping):
        table: Table | InlineTable = tomlkit.inline_table() if inline else tomlkit.table()
        for key, child in value.items():
            table.append(key, _build(child, inline))
        return table
    if isinstance(value, list):
        if not inline and value and all(isinstance(e, Mapping) for e in value):
            aot = tomlkit.aot()
            for entry in value:
                aot.append(_build(entry, False))
            return aot
        array = tomlkit.array()
        for entry in value:
            array.append(_build(entry, True))
        return array
    scalar: Item = tomlkit.item(value)
    return scalar


class _Patcher:
    """Edits a document in place until its data equals a target, reusing the items of a
    source document (the other side) for what it has to add.

    ``flat`` means the table being edited renders without headers (an inline table, a
    dotted key such as ``poetry.name = "x"``, or something inside one): nothing added
    there may be a ``[header]`` table.
    """

    def table(self, table: _Tableish, target: Mapping[str, Any], source: Any,
              keys: tuple[str, ...], flat: bool) -> None:
        source_table = source if _is_tableish(source) else None
        for key in list(table.keys()):
            if key not in target:
                del table[key]
        anchor: str | None = None
        for key, want in target.items():
            src = None
            if source_table is not None and key in source_table:
                src = _child(source_table, key)
            if key in table:
                self.update(table, key, want, src, (*keys, key), flat)
            else:
                item, copied = self.fresh(
                    want, src, inline=flat or _folds_names(keys), header_ok=not flat
                )
                written = _written_key(source_table, key) if copied and not flat else None
                _insert(table, anchor, key, item, written)
            anchor = key

    def update(self, table: _Tableish, key: str, want: Any, src: Any,
               keys: tuple[str, ...], flat: bool) -> None:
        current = _child(table, key)
        if _same(_data(current), want):
            return
        inner_flat = flat or isinstance(current, InlineTable) or _is_dotted(table, key)
        # A header-less table (dotted key, implicit super table) that is emptied would
        # vanish from the document: such a table is replaced instead.
        keeps_shape = isinstance(current, InlineTable) or (
            isinstance(current, Table) and not current.is_super_table() and not inner_flat
        )
        if isinstance(want, Mapping) and (want or keeps_shape) and _is_tableish(current):
            self.table(current, want, src, keys, inner_flat)
            return
        if isinstance(want, list) and isinstance(current, (Array, AoT)) and self.array(
            current, want, src, keys
        ):
            return
        inline = inner_flat or _folds_names(keys[:-1])
        item = self.fresh(want, src, inline=inline, header_ok=not flat)[0]
        if isinstance(table, OutOfOrderTableProxy) and _is_tableish(current):
            # tomlkit's proxy only half-replaces a table spread over several parts
            del table[key]
            _insert(table, None, key, item, None)
            return
        if not isinstance(item, (Table, AoT)):
            _fit(item, inline=isinstance(table, InlineTable), like=None)
        table[key] = item

    def array(self, array: Array | AoT, target: list[Any], source: Any,
              keys: tuple[str, ...]) -> bool:
        """Patch element by element; False when that cannot give ``target`` (the caller
        then replaces the whole array)."""
        items: list[Any] = list(array.body) if isinstance(array, AoT) else [
            array.item(i) for i in range(len(array))
        ]
        current = [_data(i) for i in items]
        key_fn = _element_key_fn(keys, (current, target)) or _value_key
        cur_ids = list(_index(current, key_fn))
        want_ids = list(_index(target, key_fn))
        by_id = dict(zip(want_ids, target))
        mine = dict(zip(cur_ids, items))
        mine_data = dict(zip(cur_ids, current))

        theirs: dict[Any, Any] = {}
        if isinstance(source, (Array, AoT)):
            src_items: list[Any] = list(source.body) if isinstance(source, AoT) else [
                source.item(i) for i in range(len(source))
            ]
            theirs = dict(zip(_index([_data(i) for i in src_items], key_fn), src_items))

        if isinstance(array, Array) and "\n" not in array.as_string():
            # One line: simply lay the elements out again (tomlkit spaces them).
            fresh = [
                mine[k] if k in mine and _same(mine_data[k], by_id[k])
                else self.fresh(by_id[k], theirs.get(k), inline=True, header_ok=False)[0]
                for k in want_ids
            ]
            array.clear()
            for element in fresh:
                array.append(element)
            return True

        # Everything that could make the patch impossible is checked before any edit.
        wanted, present = set(want_ids), set(cur_ids)
        kept = [k for k in cur_ids if k in wanted]
        if kept != [k for k in want_ids if k in present]:
            return False  # reordered: keep no layout rather than a wrong order
        if isinstance(array, AoT) and not (target and all(isinstance(v, Mapping) for v in target)):
            return False  # tomlkit writes an emptied [[array]] as a stray dotted key
        for pos in reversed(range(len(cur_ids))):
            if cur_ids[pos] not in wanted:
                del array[pos]
        for pos, ident in enumerate(kept):
            want = by_id[ident]
            element = array.body[pos] if isinstance(array, AoT) else array.item(pos)
            if _same(_data(element), want):
                continue
            if isinstance(want, Mapping) and isinstance(element, AbstractTable):
                # an [[element]] header or {...} stays put even when emptied
                self.table(element, want, theirs.get(ident), (*keys, "[]"),
                           flat=isinstance(element, InlineTable))
            else:
                array[pos] = self.fresh(want, theirs.get(ident), inline=True,
                                        header_ok=False)[0]
        for pos, ident in enumerate(want_ids):
            if ident in present:
                continue
            src = theirs.get(ident)
            if isinstance(array, AoT):
                table = self.fresh(by_id[ident], src, inline=False, header_ok=True)[0]
                if not isinstance(table, Table):
                    table = _build(by_id[ident], inline=False)  # a Table: want is a table
                if isinstance(table, Table):
                    _space_aot_element(array, pos, table)
                array.insert(pos, table)  # type: ignore[arg-type]  # tomlkit takes items
            else:
                array.insert(pos, self.fresh(by_id[ident], src, inline=True, header_ok=False)[0])
        return True

    @staticmethod
    def fresh(want: Any, src: Any, *, inline: bool, header_ok: bool) -> tuple[Item, bool]:
        """(item, copied): the source's item when it holds exactly ``want`` (keeps its
        comments), else a new one; never a header table where only values may go."""
        fits = header_ok or not isinstance(src, (Table, AoT))
        if isinstance(src, Item) and fits and _same(_data(src), want):
            return copy.deepcopy(src), True
        return _build(want, inline or not header_ok), False


def _fit(item: Item, *, inline: bool, like: Any) -> None:
    """Make a copied ``key = value`` item's surroundings suit where it goes: no comment
    or line break inside an inline table; a line of its own (indented like its new
    neighbour) anywhere else."""
    trivia = item.trivia
    if inline:
        trivia.comment = trivia.comment_ws = trivia.trail = ""
        trivia.indent = " "
        return
    if "\n" not in trivia.trail:
        trivia.trail = "\n"
    if isinstance(like, Item) and not isinstance(like, (Table, AoT)):
        trivia.indent = like.trivia.indent.rsplit("\n", 1)[-1]
    else:
        trivia.indent = trivia.indent.rsplit("\n", 1)[-1]


def _insert(table: _Tableish, anchor: str | None, key: str, item: Item,
            written: Key | None) -> None:
    """Add ``key`` right after ``anchor`` where that keeps the TOML meaning (a value
    among values, a table among tables), else after the table's last value (for a
    value), else wherever tomlkit appends it."""
    inline = isinstance(table, InlineTable)
    if written is not None and (written.key != key or written.is_multi()):
        written = None
    new_key: Key = written if written is not None else SingleKey(key)
    header = _is_header(new_key, item)
    home = _home(table, anchor, header)
    body = home.value if isinstance(home, AbstractTable) else home
    spot = None if body is None else _spot(body, anchor, header)
    if body is not None and spot is not None:
        after_key, after_item = body.body[spot]
        assert after_key is not None
        if isinstance(item, Table) and item.name is None:
            item.name = key
        if header:
            # blank line after the anchor; the new table ends as the anchor did unless
            # more follows it here
            ended_blank = _ends_blank(after_item) or spot + 1 < len(body.body)
            _space_after(after_item)
            if ended_blank:
                _space_after(item)
            else:
                _trim_blank(item)
        elif not isinstance(item, (Table, AoT)):
            _fit(item, inline=inline, like=after_item)
        body._insert_after(after_key, new_key, item)
        if isinstance(home, AbstractTable):
            dict.__setitem__(home, key, item)
        elif home is not table and isinstance(table, AbstractTable):
            dict.__setitem__(table, key, item)
        return
    if not isinstance(item, (Table, AoT)):
        _fit(item, inline=inline, like=None)
        if inline and not len(table):
            item.trivia.indent = ""
    elif (isinstance(item, Table) and header and body is not None and body.body
          and not _ends_blank(body.body[-1][1]) and not item.trivia.indent.startswith("\n")):
        item.trivia.indent = "\n" + item.trivia.indent  # a blank line before the header
    if isinstance(table, (Container, AbstractTable)):
        table.append(new_key, item)
    else:
        table[key] = item


def _home(table: _Tableish, anchor: str | None, header: bool
          ) -> Container | AbstractTable | None:
    """Where an entry of ``table`` physically goes. A table split over several headers
    or dotted keys (tomlkit's proxy) takes a new value in the part holding the anchor,
    else in the first part that already holds values."""
    if isinstance(table, (Container, AbstractTable)):
        return table
    if header:
        return None
    parts = [p for p in getattr(table, "_tables", []) if isinstance(p, Table)]
    for part in parts:
        if anchor is not None and isinstance(part.value._map.get(SingleKey(anchor)), int):
            return part
    for part in parts:
        if _spot(part.value, None, False) is not None:
            return part
    return None


def _spot(body: Container, anchor: str | None, header: bool) -> int | None:
    """Index of the entry to insert after: ``anchor`` if it is the same kind (value or
    header table), else, for a value, the last value; None = append."""
    if anchor is not None:
        index = body._map.get(SingleKey(anchor))
        if isinstance(index, int):
            anchor_key, anchor_item = body.body[index]
            if _is_header(anchor_key, anchor_item) == header:
                return index
    if header:
        return None
    last = None
    for index, (entry_key, entry) in enumerate(body.body):
        if entry_key is not None and not _is_header(entry_key, entry):
            last = index
    return last


def _space_after(item: Any) -> None:
    """Keep the blank line between tables when a table is inserted after ``item``: the
    table that renders last in ``item`` gets one at its end."""
    if isinstance(item, AoT) and item.body:
        _space_after(item.body[-1])
    elif isinstance(item, Table) and item.value.body and not _ends_blank(item):
        last_key, last = item.value.body[-1]
        if _is_header(last_key, last):
            _space_after(last)
        elif not item.is_super_table():
            item.value.append(None, TomlWhitespace("\n"))


def _space_aot_element(aot: AoT, pos: int, table: Table) -> None:
    """Blank lines around a ``[[element]]`` about to be inserted at ``pos``, as between
    the elements already there; the last one ends the way the last one did."""
    last_blank = bool(aot.body) and _ends_blank(aot.body[-1])
    if pos > 0:
        _space_after(aot.body[pos - 1])
    if pos < len(aot.body) or last_blank:
        _space_after(table)
    else:
        _trim_blank(table)


def _trim_blank(item: Any) -> None:
    """Drop the blank line a copied table brought along from its old place."""
    if isinstance(item, AoT) and item.body:
        _trim_blank(item.body[-1])
    elif isinstance(item, Table) and item.value.body:
        body = item.value.body
        last_key, last = body[-1]
        if last_key is None and isinstance(last, TomlWhitespace):
            body[-1] = (None, TomlWhitespace(""))
        elif _is_header(last_key, last):
            _trim_blank(last)


def _ends_blank(item: Any) -> bool:
    if isinstance(item, TomlWhitespace):
        return True
    if isinstance(item, Table):
        body = item.value.body
        return bool(body) and _ends_blank(body[-1][1])
    if isinstance(item, AoT):
        return bool(item.body) and _ends_blank(item.body[-1])
    return False


# ----------------------------------------------------------- step 3: the render


def _render(target: dict[str, Any], docs: tuple[TOMLDocument | None, TOMLDocument | None],
            texts: tuple[str, str], where: str) -> str:
    """Ours patched; failing that theirs patched; failing that the target written plainly.

    Each candidate must read back as exactly ``target`` (with the strict reader the rest
    of lockfix uses, and with tomlkit) before it is accepted. ``docs`` are the parsed
    ``texts`` (ours, theirs; None where tomlkit could not read one); the first attempt
    edits ours' document in place.
    """
    ours_doc, theirs_doc = docs
    attempts: list[Callable[[], tuple[TOMLDocument, TOMLDocument | None]]] = []
    if ours_doc is not None:
        attempts.append(lambda: (ours_doc, theirs_doc))
    if theirs_doc is not None:
        attempts.append(lambda: (
            tomlkit.parse(texts[1]) if ours_doc is not None else theirs_doc,
            None if ours_doc is None else tomlkit.parse(texts[0]),
        ))
    for attempt in attempts:
        try:
            doc, source = attempt()
            _Patcher().table(doc, target, source, (), flat=False)
            text = doc.as_string()
        except Exception:  # tomlkit's editing API raises assorted types on odd layouts
            continue
        for candidate in dict.fromkeys((_newlines_like(texts[0], text), text)):
            if _reads_as(candidate, target, where):
                return candidate
    plain = tomlkit.document()
    for key, value in target.items():
        plain.append(key, _build(value, inline=False))
    return _newlines_like(texts[0], plain.as_string())


def _newlines_like(model: str, text: str) -> str:
    """Lines added from theirs (or built) end in LF; a CRLF file stays all CRLF (unless
    that would change a multi-line string, which the caller's check catches)."""
    crlf = model.count("\r\n")
    if crlf and crlf == model.count("\n"):
        return re.sub(r"(?<!\r)\n", "\r\n", text)
    return text


def _reads_as(text: str, target: Mapping[str, Any], where: str) -> bool:
    try:
        strict = load_toml(text, where)
        lenient = tomlkit.parse(text).unwrap()
    except Exception:  # MalformedToml, or whatever tomlkit chokes on
        return False
    return _same(strict, target) and _same(lenient, target)
