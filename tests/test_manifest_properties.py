"""Property tests for the pyproject.toml three-way merge.

Documents are generated as data (realistic pyproject shapes plus odd keys and scalars),
derived into ours/theirs by random edits, and written as TOML text by a small renderer
that varies the layout the way real files do: header vs inline vs dotted tables, implicit
super tables, out-of-order tables, arrays of tables, multi-line arrays with comments.
Layout choices are keyed by a seed and the table path, so an edited side keeps its
base's layout where the structure did not change, as a real edit would.

Examples are derandomized so that CI never flakes; ``LOCKFIX_PROPERTY_SCALE`` (a factor on
the number of examples) and ``LOCKFIX_PROPERTY_RANDOM=1`` explore further locally.
"""

from __future__ import annotations

import copy
import math
import os
import random
import re
import sys
from datetime import date, datetime, time, timezone
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from lockfix.errors import MergeClash
from lockfix.manifest import merge_manifest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

_SCALE = float(os.environ.get("LOCKFIX_PROPERTY_SCALE", "1"))


def _settings(examples: int) -> settings:
    """Fixed examples (derandomized: CI never flakes) sized so that the whole module
    runs in well under 20 s; ``LOCKFIX_PROPERTY_SCALE=10 LOCKFIX_PROPERTY_RANDOM=1``
    explores further."""
    return settings(
        max_examples=max(1, int(examples * _SCALE)),
        deadline=None,
        derandomize=not os.environ.get("LOCKFIX_PROPERTY_RANDOM"),
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
    )


# ------------------------------------------------------------------ comparing data


def norm(value: Any, fold: bool = False, unordered: bool = False) -> Any:
    """A comparable form of TOML data: types kept apart (1 != 1.0 != true), nan equal
    to itself; optionally keys folded like package names and arrays taken as multisets."""
    if isinstance(value, dict):
        items = [(canonicalize_name(k) if fold else k, norm(v, fold, unordered))
                 for k, v in value.items()]
        return ("table", tuple(sorted(items, key=repr)))
    if isinstance(value, list):
        elements = [norm(v, fold, unordered) for v in value]
        return ("array", tuple(sorted(elements, key=repr) if unordered else elements))
    if isinstance(value, float):
        return ("float", repr(value))
    if isinstance(value, (datetime, date, time)):
        return (type(value).__name__, value.isoformat())
    return (type(value).__name__, value)


def tomlkit_data(text: str) -> Any:
    """tomlkit's reading of ``text``; None for the few valid layouts it refuses."""
    try:
        return tomlkit.parse(text).unwrap()
    except Exception:
        return None


def parsed(text: str, *inputs: str) -> Any:
    """The normalized data of a merge result, which both readers must read alike (only
    an input handed back verbatim may be one that tomlkit refuses)."""
    strict = norm(tomllib.loads(text))
    lenient = tomlkit_data(text)
    assert (lenient is None and text in inputs) or norm(lenient) == strict
    return strict


# ----------------------------------------------------------------- the renderer

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def basic_string(text: str) -> str:
    out = []
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def key_text(key: str) -> str:
    return key if _BARE.fullmatch(key) else basic_string(key)


class Renderer:
    """Writes data as TOML with layout choices drawn per path from a seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.sections: list[list[str] | None] = []

    def rng(self, path: tuple[str, ...], what: str) -> random.Random:
        return random.Random(f"{self.seed}|{what}|{path!r}")

    def render(self, data: dict[str, Any]) -> str:
        root: list[str] = []
        self.body(data, (), root, headers=True)
        sections = [s for s in self.sections if s is not None]
        if self.rng((), "shuffle").random() < 0.3:
            self.rng((), "order").shuffle(sections)
        chunks = ["\n".join(root)] if root else []
        chunks += ["\n".join(s) for s in sections]
        return "\n\n".join(chunks) + "\n" if chunks else ""

    # values ---------------------------------------------------------------

    def scalar(self, value: Any, path: tuple[str, ...]) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if math.isnan(value):
                return "nan"
            if math.isinf(value):
                return "inf" if value > 0 else "-inf"
            return repr(value)
        if isinstance(value, str):
            literal_ok = "'" not in value and not any(
                ord(c) < 0x20 or ord(c) == 0x7F for c in value
            )
            if literal_ok and self.rng(path, "literal").random() < 0.2:
                return f"'{value}'"
            return basic_string(value)
        if isinstance(value, (datetime, date, time)):
            return value.isoformat()
        raise AssertionError(f"unexpected scalar {value!r}")

    def inline(self, value: Any, path: tuple[str, ...]) -> str:
        if isinstance(value, dict):
            if not value:
                return "{}"
            inner = ", ".join(f"{key_text(k)} = {self.inline(v, (*path, k))}"
                              for k, v in value.items())
            return "{ " + inner + " }" if self.rng(path, "pad").random() < 0.5 else (
                "{" + inner + "}")
        if isinstance(value, list):
            return "[" + ", ".join(self.inline(v, (*path, str(i)))
                                   for i, v in enumerate(value)) + "]"
        return self.scalar(value, path)

    def array(self, value: list[Any], path: tuple[str, ...]) -> str:
        rng = self.rng(path, "array")
        if not value or rng.random() < 0.5:
            return self.inline(value, path)
        trailing = rng.random() < 0.7
        lines = ["["]
        for i, element in enumerate(value):
            comma = "," if i < len(value) - 1 or trailing else ""
            note = "  # why" if rng.random() < 0.2 else ""
            lines.append(f"    {self.inline(element, (*path, str(i)))}{comma}{note}")
        lines.append("]")
        return "\n".join(lines)

    def note(self, path: tuple[str, ...]) -> str:
        return "  # note" if self.rng(path, "note").random() < 0.2 else ""

    # tables ---------------------------------------------------------------

    def body(self, table: dict[str, Any], path: tuple[str, ...], lines: list[str],
             headers: bool) -> None:
        """Key/value lines of ``table`` into ``lines``; sub-tables that get their own
        header become new sections (only where ``headers`` allows them)."""
        for key, value in table.items():
            sub = (*path, key)
            shown = key_text(key)
            mode = self.rng(sub, "mode").random()
            if isinstance(value, dict):
                if headers and (mode < 0.6 or (not value and mode < 0.8)):
                    self.header(value, sub)
                elif value and mode < 0.85:
                    self.dotted(value, [shown], sub, lines)
                else:
                    lines.append(f"{shown} = {self.inline(value, sub)}{self.note(sub)}")
            elif (headers and isinstance(value, list) and value
                  and all(isinstance(v, dict) for v in value) and mode < 0.6):
                self.aot(value, sub)
            elif isinstance(value, list):
                lines.append(f"{shown} = {self.array(value, sub)}{self.note(sub)}")
            else:
                lines.append(f"{shown} = {self.scalar(value, sub)}{self.note(sub)}")

    def dotted(self, table: dict[str, Any], prefix: list[str], path: tuple[str, ...],
               lines: list[str]) -> None:
        for key, value in table.items():
            sub = (*path, key)
            keys = [*prefix, key_text(key)]
            if isinstance(value, dict) and value and self.rng(sub, "dot").random() < 0.5:
                self.dotted(value, keys, sub, lines)
            else:
                lines.append(f"{'.'.join(keys)} = {self.inline(value, sub)}{self.note(sub)}")

    def header(self, table: dict[str, Any], path: tuple[str, ...]) -> None:
        slot = len(self.sections)
        self.sections.append(None)
        lines: list[str] = []
        self.body(table, path, lines, headers=True)
        implicit = table and not lines and self.rng(path, "implicit").random() < 0.7
        if not implicit:
            head = "[" + ".".join(key_text(k) for k in path) + "]"
            if self.rng(path, "comment").random() < 0.2:
                head = "# section\n" + head
            self.sections[slot] = [head + self.note(path), *lines]

    def aot(self, elements: list[dict[str, Any]], path: tuple[str, ...]) -> None:
        head = "[[" + ".".join(key_text(k) for k in path) + "]]"
        lines: list[str] = []
        for i, element in enumerate(elements):
            if i:
                lines.append("")
            lines.append(head)
            self.body(element, (*path, str(i)), lines, headers=False)
        self.sections.append(lines)


def render(data: dict[str, Any], seed: int) -> str:
    text = Renderer(seed).render(data)
    assert norm(tomllib.loads(text)) == norm(data), text  # the generator itself must be right
    return text


# ------------------------------------------------------------------ data shapes

PACKAGES = ["requests", "Requests", "click", "httpx", "rich", "pydantic", "attrs",
            "typing-extensions", "typing_extensions", "numpy", "Django", "black"]
SPECS = ["", ">=1", ">=2,<3", "==1.2.3", "~=1.4", "[socks]>=2"]
MARKERS = ["", "; python_version < '3.11'", "; sys_platform == 'win32'"]
CONSTRAINTS = ["^1.0", ">=2,<3", "*", "~1.2", "1.2.3"]
GROUPS = ["dev", "test", "docs", "lint"]
KEYS = ["alpha", "beta", "gamma", "line-length", "a.b", "x y", "ünï", "1", "Key", ""]
TEXTS = ["", "x", "hello world", 'quo"te', "back\\slash", "multi\nline", "tab\there",
         "ünï", "'single'"]
FLOATS = [0.5, 1.0, -2.25, 1e-05, 3e20, math.inf, -math.inf, math.nan, -0.0]
MOMENTS = [date(2024, 1, 2), datetime(2024, 1, 2, 3, 4, 5), time(12, 30),
           datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)]

requirements = st.one_of(
    st.builds(lambda n, s, m: f"{n}{s}{m}", st.sampled_from(PACKAGES),
              st.sampled_from(SPECS), st.sampled_from(MARKERS)),
    st.sampled_from(["not a requirement!", "pkg @ https://example.com/pkg-1.0.tar.gz"]),
)
group_entries = st.one_of(
    requirements, st.builds(lambda g: {"include-group": g}, st.sampled_from(GROUPS))
)
poetry_specs = st.one_of(
    st.sampled_from(CONSTRAINTS),
    st.fixed_dictionaries(
        {"version": st.sampled_from(CONSTRAINTS)},
        optional={"optional": st.just(True),
                  "extras": st.lists(st.sampled_from(["socks", "http2"]), max_size=2,
                                     unique=True)},
    ),
    # builds, not just: edits mutate what was drawn, and just() hands out one object
    st.builds(lambda: {"path": "../core", "develop": True}),
    st.builds(lambda: [{"version": "<2", "python": "<3.8"},
                       {"version": ">=2", "python": ">=3.8"}]),
)
scalars = st.one_of(
    st.sampled_from(TEXTS), st.text(max_size=6), st.integers(-5, 100), st.booleans(),
    st.sampled_from(FLOATS), st.sampled_from(MOMENTS),
)
generic = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
    ),
    max_leaves=6,
)
generic_tables = st.dictionaries(st.sampled_from(KEYS), generic, max_size=4)
poetry_deps = st.dictionaries(st.sampled_from(PACKAGES), poetry_specs, max_size=4)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if draw(st.booleans()):
        project: dict[str, Any] = {"name": "app", "version": "0.1.0",
                                   "requires-python": ">=3.9"}
        project["dependencies"] = draw(st.lists(requirements, max_size=5))
        if draw(st.booleans()):
            project["optional-dependencies"] = draw(st.dictionaries(
                st.sampled_from(["docs", "Socks", "socks", "cli"]),
                st.lists(requirements, max_size=3), max_size=2))
        doc["project"] = project
    tool: dict[str, Any] = {}
    if draw(st.booleans()):
        poetry: dict[str, Any] = {"name": "app", "version": "0.1.0"}
        poetry["dependencies"] = {"python": "^3.9", **draw(poetry_deps)}
        if draw(st.booleans()):
            poetry["group"] = draw(st.dictionaries(
                st.sampled_from(GROUPS), st.builds(lambda d: {"dependencies": d}, poetry_deps),
                max_size=2))
        if draw(st.booleans()):
            poetry["source"] = draw(st.lists(
                st.builds(lambda n, p: {"name": n, "url": f"https://{n}.example/simple",
                                        "priority": p},
                          st.sampled_from(["mirror", "private", "extra"]),
                          st.sampled_from(["primary", "supplemental", "explicit"])),
                max_size=3, unique_by=lambda s: s["name"]))
        tool["poetry"] = poetry
    if draw(st.booleans()):
        tool["black"] = {"line-length": draw(st.integers(80, 120)),
                         "target-version": draw(st.lists(st.sampled_from(["py39", "py310"]),
                                                         max_size=2))}
    if draw(st.booleans()):
        tool["pytest"] = {"ini_options": {"addopts": draw(st.sampled_from(["-q", "-ra"]))}}
    if draw(st.booleans()):
        tool["other"] = draw(generic_tables)
    if tool:
        doc["tool"] = tool
    if draw(st.booleans()):
        doc["build-system"] = {"requires": draw(st.lists(requirements, max_size=3)),
                               "build-backend": "poetry.core.masonry.api"}
    if draw(st.booleans()):
        doc["dependency-groups"] = draw(st.dictionaries(
            st.sampled_from(GROUPS), st.lists(group_entries, max_size=3), max_size=3))
    if draw(st.integers(0, 5)) == 0:
        doc.update(draw(st.dictionaries(st.sampled_from(["top", "level"]), scalars,
                                        max_size=2)))
    return doc


def _dependency_table(path: tuple[str, ...]) -> bool:
    return path in {("tool", "poetry", "dependencies"), ("tool", "poetry", "dev-dependencies")} or (
        len(path) == 5 and path[:3] == ("tool", "poetry", "group") and path[4] == "dependencies")


def _dependency_array(path: tuple[str, ...]) -> bool:
    return (path in {("project", "dependencies"), ("build-system", "requires")}
            or (len(path) == 3 and path[:2] == ("project", "optional-dependencies"))
            or (len(path) == 2 and path[0] == "dependency-groups"))


def _containers(value: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    found: list[tuple[tuple[str, ...], Any]] = []
    if isinstance(value, dict):
        found.append((path, value))
        for key, child in value.items():
            found += _containers(child, (*path, key))
    elif isinstance(value, list):
        found.append((path, value))
        for i, child in enumerate(value):
            found += _containers(child, (*path, f"[{i}]"))
    return found


@st.composite
def edited(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` after a few random edits: keys/dependencies added, removed, changed."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 4))):
        path, target = draw(st.sampled_from(_containers(doc, ())))
        if _dependency_table(path):
            values: st.SearchStrategy[Any] = poetry_specs
            keys: st.SearchStrategy[str] = st.sampled_from(PACKAGES)
        elif _dependency_array(path):
            values = group_entries if path[0] == "dependency-groups" else requirements
            keys = st.sampled_from(KEYS)
        else:
            values = st.one_of(scalars, generic)
            keys = st.sampled_from([*KEYS, "added", "new-table"])
        op = draw(st.sampled_from(["add", "add", "remove", "change"]))
        if isinstance(target, dict):
            if op == "add" or not target:
                target[draw(keys)] = draw(values)
            elif op == "remove":
                del target[draw(st.sampled_from(sorted(target)))]
            else:
                target[draw(st.sampled_from(sorted(target)))] = draw(values)
        else:
            if op == "add" or not target:
                target.insert(draw(st.integers(0, len(target))), draw(values))
            elif op == "remove":
                del target[draw(st.integers(0, len(target) - 1))]
            else:
                target[draw(st.integers(0, len(target) - 1))] = draw(values)
    return doc


@st.composite
def merges(draw: st.DrawFn) -> tuple[str, str, str, dict[str, Any], dict[str, Any],
                                     dict[str, Any]]:
    """(base, ours, theirs) texts and their data; each side keeps its base's layout
    seed most of the time, as real edits do."""
    base = draw(documents())
    ours = draw(edited(base))
    theirs = draw(edited(base))
    seed = draw(st.integers(0, 2**16))
    seeds = [draw(st.one_of(st.just(seed), st.integers(0, 2**16))) for _ in range(2)]
    return (render(base, seed), render(ours, seeds[0]), render(theirs, seeds[1]),
            base, ours, theirs)


# ------------------------------------------------------------------- properties

Merge = tuple[str, str, str, dict[str, Any], dict[str, Any], dict[str, Any]]


@_settings(25)
@given(merges())
def test_identical_sides_give_that_side_verbatim(case: Merge) -> None:
    base, ours, _, _, _, _ = case
    result = merge_manifest(base, ours, ours)
    assert result.text == ours
    assert result.clashes == ()
    assert merge_manifest(None, ours, ours, "fail").text == ours


@_settings(40)
@given(merges())
def test_change_on_theirs_only_gives_theirs(case: Merge) -> None:
    base, _, theirs, _, _, theirs_data = case
    for policy in ("theirs", "fail"):
        result = merge_manifest(base, base, theirs, policy)
        assert parsed(result.text, theirs) == norm(theirs_data)
        assert result.clashes == ()


@_settings(35)
@given(merges())
def test_change_on_ours_only_keeps_ours_verbatim(case: Merge) -> None:
    base, ours, _, _, _, _ = case
    for policy in ("theirs", "fail"):
        result = merge_manifest(base, ours, base, policy)
        assert result.text == ours
        assert result.clashes == ()


def _three_way_law(base: Any, ours: Any, theirs: Any, merged: Any,
                   path: tuple[str, ...] = ()) -> None:
    """Where one side left a value alone, the merge has the other side's value."""
    missing = object()
    if norm(ours) == norm(theirs):
        assert norm(merged) == norm(ours), path
    elif norm(base) == norm(ours):
        assert norm(merged) == norm(theirs), path
    elif norm(base) == norm(theirs):
        assert norm(merged) == norm(ours), path
    elif (isinstance(ours, dict) and isinstance(theirs, dict) and isinstance(merged, dict)
          and not _dependency_table(path) and path != ("project", "optional-dependencies")
          and path != ("dependency-groups",)):
        base = base if isinstance(base, dict) else {}
        for key in {*ours, *theirs}:
            b, o, t = base.get(key, missing), ours.get(key, missing), theirs.get(key, missing)
            m = merged.get(key, missing)
            if o is missing and t is missing:
                assert m is missing, (*path, key)
            elif o is missing or t is missing:
                if b is missing:  # added by one side only: kept
                    assert m is not missing and norm(m) == norm(t if o is missing else o)
                continue  # removed by one side: kept or removed depending on a clash
            else:
                assert m is not missing, (*path, key)
                _three_way_law(b, o, t, m, (*path, key))


@_settings(60)
@given(merges(), st.sampled_from(["theirs", "ours"]))
def test_any_merge_is_valid_toml_obeying_the_three_way_law(case: Merge, policy: Any) -> None:
    base, ours, theirs, base_data, ours_data, theirs_data = case
    result = merge_manifest(base, ours, theirs, policy)
    merged = tomllib.loads(result.text)
    parsed(result.text, ours, theirs)
    if not any("different tables" in c.reason for c in result.clashes):
        # (a package both added to different tables is kept in one only: not per table)
        _three_way_law(base_data, ours_data, theirs_data, merged)
    # a table one side deleted stays deleted whatever the policy; all else follows it
    assert all(c.chosen == policy or " deleted " in c.reason for c in result.clashes)
    assert merge_manifest(base, ours, theirs, policy).text == result.text  # deterministic
    if result.clashes:
        with pytest.raises(MergeClash):
            merge_manifest(base, ours, theirs, "fail")
    else:
        assert merge_manifest(base, ours, theirs, "fail").text == result.text


@_settings(40)
@given(merges())
def test_swapping_sides_and_policy_gives_the_same_content(case: Merge) -> None:
    base, ours, theirs, _, _, _ = case
    forward = merge_manifest(base, ours, theirs, "theirs")
    backward = merge_manifest(base, theirs, ours, "ours")

    def content(text: str) -> Any:  # the order of keys and elements is each side's own
        return norm(tomllib.loads(text), fold=True, unordered=True)

    assert content(forward.text) == content(backward.text)
    assert len(forward.clashes) == len(backward.clashes)


@_settings(40)
@given(merges())
def test_newer_is_symmetric_where_it_decides(case: Merge) -> None:
    """With ``newer``, which side is "ours" does not matter for the clashes it decides
    (and deleted tables stay deleted either way); only its fallback takes a side."""
    base, ours, theirs, _, _, _ = case
    forward = merge_manifest(base, ours, theirs, "newer")
    backward = merge_manifest(base, theirs, ours, "newer")
    assert len(forward.clashes) == len(backward.clashes)
    decided = all(c.reason.startswith("newer:") or " deleted " in c.reason
                  for c in forward.clashes)
    if decided:
        def content(text: str) -> Any:
            return norm(tomllib.loads(text), fold=True, unordered=True)

        assert content(forward.text) == content(backward.text)
        flipped = {"ours": "theirs", "theirs": "ours"}
        assert sorted(c.reason for c in forward.clashes if c.reason.startswith("newer:")) == \
            sorted(c.reason for c in backward.clashes if c.reason.startswith("newer:"))
        assert sorted(c.chosen for c in forward.clashes) == sorted(
            flipped[c.chosen] for c in backward.clashes)


@_settings(40)
@given(merges(), st.sampled_from(["theirs", "ours"]))
def test_two_way_merge_keeps_everything_either_side_has(case: Merge, policy: Any) -> None:
    _, ours, theirs, _, ours_data, theirs_data = case
    result = merge_manifest(None, ours, theirs, policy)
    merged = tomllib.loads(result.text)
    parsed(result.text, ours, theirs)
    for key in {*ours_data, *theirs_data}:
        assert key in merged


# ------------------------------------------------------------------ uv's tables

GLOBS = ["packages/*", "libs/*", "apps/*", "libs/core", "tools/x", "a b/*", "ünï/*"]


def _toml_array(items: list[str]) -> str:
    return "[" + ", ".join(basic_string(i) for i in items) + "]"


@_settings(80)
@given(st.lists(st.sampled_from(GLOBS), unique=True, max_size=5), st.data())
def test_uv_workspace_members_merge_as_sets(base: list[str], data: st.DataObject) -> None:
    """Whatever each side adds, removes or reorders: the result has no duplicates, holds
    exactly what neither side removed plus what either added, in ours' order followed
    by theirs' additions."""
    sides = [data.draw(st.permutations(
        data.draw(st.lists(st.sampled_from(GLOBS), unique=True, max_size=5)) + [
            g for g in base if data.draw(st.booleans())]).map(lambda p: list(dict.fromkeys(p))))
        for _ in range(2)]
    ours, theirs = sides

    def doc(members: list[str]) -> str:
        return f'[tool.uv.workspace]\nmembers = {_toml_array(members)}\nexclude = ["x"]\n'

    result = merge_manifest(doc(base), doc(ours), doc(theirs), "fail")
    got = tomllib.loads(result.text)["tool"]["uv"]["workspace"]["members"]
    assert result.clashes == ()
    assert len(got) == len(set(got))
    kept = {g for g in base if g in ours and g in theirs}
    added = {g for g in [*ours, *theirs] if g not in base}
    assert set(got) == kept | added
    if ours == base or theirs == base:  # one side's file unchanged: the other side's
        assert got == (theirs if ours == base else ours)
        return
    ours_part = [g for g in got if g in ours]
    assert ours_part == [g for g in ours if g in set(got)]
    assert got == ours_part + [g for g in theirs if g in added and g not in ours]


@_settings(60)
@given(st.dictionaries(st.sampled_from(["torch", "core", "httpx"]),
                       st.sampled_from(["a", "b", "c"]), max_size=3),
       st.sampled_from(["torch", "Torch", "TORCH", "core", "httpx"]),
       st.sampled_from(["a", "b", "c", None]))
def test_uv_sources_match_package_names_canonically(
        base: dict[str, str], name: str, index: str | None) -> None:
    """theirs edits or adds one source (spelled any way); ours respells every key. The
    edit lands on ours' spelling of the same package, never as a second key."""
    def doc(sources: dict[str, str]) -> str:
        lines = [f'{basic_string(k)} = {{ index = "{v}" }}' for k, v in sources.items()]
        return "[tool.uv.sources]\n" + "".join(line + "\n" for line in lines)

    ours = {k.upper(): v for k, v in base.items()}
    theirs = {k: v for k, v in base.items() if canonicalize_name(k) != canonicalize_name(name)}
    if index is not None:
        theirs[name] = index
    result = merge_manifest(doc(base), doc(ours), doc(theirs), "fail")
    got = tomllib.loads(result.text).get("tool", {}).get("uv", {}).get("sources", {})
    want = {canonicalize_name(k): v for k, v in theirs.items()}
    assert {canonicalize_name(k): v["index"] for k, v in got.items()} == want
    assert len(got) == len(want)
