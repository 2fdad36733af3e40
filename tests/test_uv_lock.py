"""The uv.lock model, its renderer, and the package-level three-way merge, proven on real uv.

Fixtures under tests/data/uv/ were written by uv 0.13.8 (``revision = 5``) and uv 0.5.31
(no ``revision``) against a local index on port 58123:

- ``project-*.lock``: ``app`` with ``requires-python = ">=3.8"``, dependencies
  ``requests>=2.30``, ``click``, ``numpy<2; python_version<'3.9'`` and
  ``numpy>=2; python_version>='3.9'`` (a forked resolution: numpy 1.24.4 and 2.0.0),
  extra ``fancy = ["rich"]``, dependency group ``dev = ["pytest"]``.
- ``workspace-*.lock``: a virtual-free workspace root ``root`` (``core``, ``click<8.2``),
  members ``packages/core`` (``requests>=2.30``) and ``packages/api`` (``core``,
  ``attrs``, ``ext`` by path from ``libs/ext``), ``constraint-dependencies =
  ["urllib3<2"]``, ``override-dependencies = ["idna==3.4"]``, dev and lint groups.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from lockfix.backends.base import canonical_name
from lockfix.backends.uv.lock import (
    LockPolicy,
    UvLock,
    entry_id,
    is_local,
    merge_locks,
    parse_lock,
    render_lock,
)
from lockfix.errors import LockfixError, MalformedToml
from lockfix.localindex import PackageIndex
from tests.support.uv import UvExe

DATA = Path(__file__).parent / "data" / "uv"
FIXTURES = sorted(p.name for p in DATA.glob("*.lock"))
POLICIES: tuple[LockPolicy, ...] = ("drop", "ours", "theirs", "higher")
REGISTRY = {"registry": "https://idx.example/simple/"}
OTHER_REGISTRY = {"registry": "https://other.example/simple/"}


def fixture(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


# -- builders ------------------------------------------------------------------------------


def pkg(name: str, version: str | None = "1.0", source: dict[str, Any] | None = None,
        **extra: Any) -> dict[str, Any]:
    """A [[package]] entry as uv writes one; ``extra`` adds keys (``dependencies=...``)."""
    entry: dict[str, Any] = {"name": name}
    if version is not None:
        entry["version"] = version
    entry["source"] = dict(REGISTRY if source is None else source)
    if "registry" in entry["source"]:
        url = f"https://idx.example/files/{name}-{version}-py3-none-any.whl"
        entry["wheels"] = [{"url": url, "hash": f"sha256:{name}{version}"}]
    entry.update(extra)
    return entry


def root(*deps: str, **extra: Any) -> dict[str, Any]:
    """The project's own entry, depending on ``deps`` by bare name."""
    return pkg("app", "0.1.0", {"virtual": "."}, dependencies=[{"name": d} for d in deps],
               **extra)


def lock(*packages: dict[str, Any], revision: int | None = 5, **top: Any) -> str:
    return render_lock(
        UvLock(version=1, revision=revision, top={"requires-python": ">=3.9", **top},
               packages=tuple(packages))
    )


def versions(text: str) -> dict[str, list[str]]:
    """Canonical name -> sorted versions locked (several for a forked name)."""
    out: dict[str, list[str]] = {}
    for entry in parse_lock(text).packages:
        out.setdefault(canonical_name(entry["name"]), []).append(str(entry.get("version")))
    return {k: sorted(v) for k, v in out.items()}


def flat(text: str) -> dict[str, str]:
    return {name: vs[-1] for name, vs in versions(text).items()}


def unreadable_references(text: str) -> list[str]:
    """What uv 0.5.31 and 0.13.8 refuse a lock for, by uv's rules (written independently
    of the module): a reference that omits version or source needs the only entry of
    its name; one that gives them needs that exact entry; no entry twice."""
    packages = parse_lock(text).packages
    problems = []
    ids = [entry_id(p) for p in packages]
    if len(set(ids)) != len(ids):
        problems.append("duplicate package")
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for p in packages:
        by_name.setdefault(canonical_name(p["name"]), []).append(p)
    for p in packages:
        arrays = [p.get("dependencies", [])]
        for table in ("optional-dependencies", "dev-dependencies"):
            arrays.extend(p.get(table, {}).values())
        for refs in arrays:
            for ref in refs:
                cands = by_name.get(canonical_name(ref["name"]), [])
                if ("version" not in ref or "source" not in ref) and len(cands) != 1:
                    problems.append(f"{p['name']} -> {ref['name']}: ambiguous or missing")
                    continue
                ok = [c for c in cands
                      if ref.get("version", c.get("version")) == c.get("version")
                      and ref.get("source", c.get("source")) == c.get("source")]
                if not ok:
                    problems.append(f"{p['name']} -> {ref}: no such entry")
    return problems


# -- parsing and rendering -----------------------------------------------------------------


def test_parse_a_uv_0_13_8_project_lock() -> None:
    parsed = parse_lock(fixture("project-uv0.13.8.lock"))
    assert (parsed.version, parsed.revision, parsed.lock_version) == (1, 5, "1.5")
    assert parsed.requires_python == ">=3.8"
    assert parsed.top["resolution-markers"] == [
        "python_full_version >= '3.9'",
        "python_full_version < '3.9'",
    ]
    numpy = [p for p in parsed.packages if p["name"] == "numpy"]
    assert [(p["version"], p["resolution-markers"]) for p in numpy] == [
        ("1.24.4", ["python_full_version < '3.9'"]),
        ("2.0.0", ["python_full_version >= '3.9'"]),
    ]
    app = parsed.packages[0]
    assert app["source"] == {"virtual": "."} and is_local(app)
    assert app["optional-dependencies"] == {"fancy": [{"name": "rich"}]}
    assert app["metadata"]["requires-dev"] == {"dev": [{"name": "pytest"}]}
    assert not is_local(numpy[0])


def test_parse_a_uv_0_5_31_lock_has_no_revision() -> None:
    parsed = parse_lock(fixture("project-uv0.5.31.lock"))
    assert (parsed.revision, parsed.lock_version) == (None, "1")
    assert "revision" not in render_lock(parsed)


def test_parse_a_workspace_lock() -> None:
    parsed = parse_lock(fixture("workspace-uv0.13.8.lock"))
    assert parsed.top["manifest"] == {
        "members": ["api", "core", "root"],
        "constraints": [{"name": "urllib3", "specifier": "<2"}],
        "overrides": [{"name": "idna", "specifier": "==3.4"}],
    }
    sources = {p["name"]: p["source"] for p in parsed.packages if is_local(p)}
    assert sources == {
        "api": {"editable": "packages/api"},
        "core": {"editable": "packages/core"},
        "ext": {"directory": "libs/ext"},
        "root": {"virtual": "."},
    }


@pytest.mark.parametrize("name", FIXTURES)
def test_render_reproduces_uv_byte_for_byte(name: str) -> None:
    assert render_lock(parse_lock(fixture(name))) == fixture(name)


def test_render_writes_options_datetimes_and_escapes() -> None:
    text = (
        'version = 1\nrevision = 3\nrequires-python = ">=3.9"\n\n'
        '[options]\nexclude-newer = "2024-03-25T00:00:00Z"\nprerelease-mode = "allow"\n\n'
        '[[package]]\nname = "odd"\nversion = "1.0"\nsource = { git = "file:///r?rev=a#b\\"c" }\n'
        "stamp = 1979-05-27T07:32:00Z\n"
    )
    parsed = parse_lock(text)
    again = render_lock(parsed)
    assert parse_lock(again) == parsed
    assert "[options]\n" in again


def test_conflict_markers_are_a_clear_error() -> None:
    text = fixture("project-uv0.13.8.lock")
    conflicted = text.replace(
        'version = "8.2.0"', '<<<<<<< HEAD\nversion = "8.2.0"\n=======\nversion = "8.1.7"\n>>>>>>> b'
    )
    with pytest.raises(LockfixError) as err:
        parse_lock(conflicted, "pkg/uv.lock")
    line = conflicted.split("\n").index("<<<<<<< HEAD") + 1
    assert f"pkg/uv.lock:{line}: conflict marker '<<<<<<<'" in str(err.value)
    assert not isinstance(err.value, MalformedToml)


def test_malformed_toml_names_the_side_and_line() -> None:
    with pytest.raises(MalformedToml) as err:
        merge_locks(lock(pkg("a")), lock(pkg("a")), 'version = 1\n[[package]]\nname = "a\n')
    assert err.value.where == "uv.lock (theirs)" and err.value.line == 3


@pytest.mark.parametrize(
    "text",
    ['requires-python = ">=3.9"\n', 'version = "1"\n', 'version = 1\npackage = 3\n',
     'version = 1\n[[package]]\nversion = "1"\n', 'version = 1\nrevision = "x"\n'],
)
def test_valid_toml_that_is_no_uv_lock_is_refused(text: str) -> None:
    with pytest.raises(LockfixError, match="not a uv lock file"):
        parse_lock(text)


# -- the merge ------------------------------------------------------------------------------


BASE = lock(root("click", "idna"), pkg("click", "8.1.6"), pkg("idna", "3.4"))


@pytest.mark.parametrize("policy", POLICIES)
def test_one_sided_changes_win(policy: LockPolicy) -> None:
    ours = lock(root("click", "idna"), pkg("click", "8.1.7"), pkg("idna", "3.4"))
    theirs = lock(root("click", "idna", "rich"), pkg("click", "8.1.6"), pkg("idna", "3.4"),
                  pkg("rich", "13.6.0"))
    merged = merge_locks(BASE, ours, theirs, policy)
    assert merged.clashes == ()
    assert flat(merged.text) == {"click": "8.1.7", "idna": "3.4", "rich": "13.6.0"}
    assert unreadable_references(merged.text) == []


def test_a_one_sided_removal_wins() -> None:
    theirs = lock(root("click"), pkg("click", "8.1.6"))
    merged = merge_locks(BASE, BASE, theirs)
    assert merged.text == theirs


CLASHES = [
    ("drop", None, "dropped"),
    ("ours", "8.1.7", "ours"),
    ("theirs", "8.1.8", "theirs"),
    ("higher", "8.1.8", "theirs"),
]


@pytest.mark.parametrize(("policy", "kept", "resolution"), CLASHES)
def test_a_two_sided_version_change_follows_the_policy(
    policy: LockPolicy, kept: str | None, resolution: str
) -> None:
    ours = lock(root("click", "idna"), pkg("click", "8.1.7"), pkg("idna", "3.4"))
    theirs = lock(root("click", "idna"), pkg("click", "8.1.8"), pkg("idna", "3.6"))
    merged = merge_locks(BASE, ours, theirs, policy)
    [clash] = merged.clashes
    assert (clash.name, clash.base, clash.ours, clash.theirs) == (
        "click", ("8.1.6",), ("8.1.7",), ("8.1.8",))
    assert clash.resolution == resolution
    assert flat(merged.text).get("click") == kept
    assert flat(merged.text)["idna"] == "3.6"
    assert unreadable_references(merged.text) == []


def test_higher_prefers_a_present_group_over_a_removal() -> None:
    ours = lock(root("idna"), pkg("idna", "3.4"))  # removed click
    theirs = lock(root("click", "idna"), pkg("click", "8.1.8"), pkg("idna", "3.4"))
    merged = merge_locks(BASE, ours, theirs, "higher")
    assert [(c.name, c.resolution) for c in merged.clashes] == [("click", "theirs")]
    assert flat(merged.text)["click"] == "8.1.8"
    assert merge_locks(BASE, ours, theirs, "drop").clashes[0].resolution == "dropped"


def test_a_changed_source_is_a_change_of_resolution() -> None:
    ours = lock(root("click", "idna"), pkg("click", "8.1.6", OTHER_REGISTRY), pkg("idna", "3.4"))
    theirs = lock(root("click", "idna"), pkg("click", "8.1.7"), pkg("idna", "3.4"))
    merged = merge_locks(BASE, ours, theirs, "ours")
    assert [c.name for c in merged.clashes] == ["click"]
    [click] = [p for p in parse_lock(merged.text).packages if p["name"] == "click"]
    assert click["source"] == OTHER_REGISTRY


def test_changed_contents_of_one_resolution_do_not_clash() -> None:
    """New wheels (a re-upload, upload-time added by a newer uv) on one side and a
    dependency edge on the other: the same version, no clash, ours' entry."""
    ours = lock(root("click", "idna"), pkg("click", "8.1.6", size=10), pkg("idna", "3.4"))
    theirs = lock(root("click", "idna"), pkg("click", "8.1.6", dependencies=[{"name": "idna"}]),
                  pkg("idna", "3.4"))
    merged = merge_locks(BASE, ours, theirs, "drop")
    assert merged.clashes == ()
    [click] = [p for p in parse_lock(merged.text).packages if p["name"] == "click"]
    assert click["size"] == 10


def fork(version: str, marker: str) -> dict[str, Any]:
    markers: dict[str, Any] = {"resolution-markers": [marker]}
    return pkg("numpy", version, **markers)


OLD_PY, NEW_PY = "python_full_version < '3.9'", "python_full_version >= '3.9'"


def numpy_refs(*vs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"name": "numpy", "version": v, "source": REGISTRY, "marker": m} for v, m in vs]


def test_forked_entries_merge_as_one_group() -> None:
    def with_numpy(low: str, high: str, *more: dict[str, Any]) -> str:
        app = pkg("app", "0.1.0", {"virtual": "."},
                  dependencies=numpy_refs((low, OLD_PY), (high, NEW_PY)) +
                  [{"name": m["name"]} for m in more])
        top: dict[str, Any] = {"resolution-markers": [NEW_PY, OLD_PY]}
        return lock(app, fork(low, OLD_PY), fork(high, NEW_PY), *more, **top)

    base = with_numpy("1.24.4", "2.0.0")
    ours = with_numpy("1.24.4", "2.0.0", pkg("click", "8.1.7"))
    theirs = with_numpy("1.24.4", "2.0.1")  # one fork bumped
    merged = merge_locks(base, ours, theirs)
    assert merged.clashes == ()
    assert versions(merged.text)["numpy"] == ["1.24.4", "2.0.1"]
    forks = [p["resolution-markers"] for p in parse_lock(merged.text).packages
             if p["name"] == "numpy"]
    assert forks == [[OLD_PY], [NEW_PY]]
    assert unreadable_references(merged.text) == []

    both = merge_locks(base, with_numpy("1.24.5", "2.0.0"), theirs, "drop")
    assert [(c.ours, c.theirs) for c in both.clashes] == [
        (("1.24.5", "2.0.0"), ("1.24.4", "2.0.1"))]
    assert "numpy" not in versions(both.text)
    assert unreadable_references(both.text) == []


def test_local_entries_never_clash() -> None:
    base = lock(root("click"), pkg("click", "8.1.6"))
    ours = lock(root("click", "idna"), pkg("click", "8.1.6"), pkg("idna", "3.4"))
    theirs = lock(root("click", "rich"), pkg("click", "8.1.6"), pkg("rich", "13.6.0"))
    merged = merge_locks(base, ours, theirs, "ours")
    assert merged.clashes == ()
    assert flat(merged.text) == {"click": "8.1.6", "idna": "3.4", "rich": "13.6.0"}


def test_a_member_only_theirs_added_is_kept_when_the_lock_stays_one_sided() -> None:
    member = pkg("lib", "0.1.0", {"editable": "lib"})
    theirs = lock(root("click", "idna", "lib"), pkg("click", "8.1.6"), pkg("idna", "3.4"), member)
    merged = merge_locks(BASE, BASE, theirs)
    assert merged.text == theirs


def test_a_mixed_result_leaves_the_members_to_uv_and_keeps_references_readable() -> None:
    """Both sides changed packages: the entries kept are neither side's graph, so uv
    must re-resolve; without its roots it does (keeping the versions named)."""
    ours = lock(root("click", "idna"), pkg("click", "8.1.7"), pkg("idna", "3.4"),
                pkg("ext", "0.3.0", {"directory": "libs/ext"}))
    theirs = lock(root("click", "idna"), pkg("click", "8.1.6"), pkg("idna", "3.6"))
    merged = merge_locks(BASE, ours, theirs)
    packages = parse_lock(merged.text).packages
    assert [p["name"] for p in packages] == ["click", "ext", "idna"]
    assert flat(merged.text) == {"click": "8.1.7", "ext": "0.3.0", "idna": "3.6"}


def test_references_to_a_dropped_name_go_and_pinned_ones_are_repointed() -> None:
    """pygments clashes (dropped): rich's edge to it goes. Theirs collapsed numpy's fork
    into one entry while ours bumped pandas, whose references pin both forks: the one to
    the vanished fork is pointed at the survivor (and then is a duplicate)."""
    def lockfile(pygments: str, pandas: str, numpy: list[dict[str, Any]]) -> str:
        refs = (numpy_refs(("1.24.4", OLD_PY), ("2.0.0", NEW_PY)) if len(numpy) == 2
                else [{"name": "numpy"}])
        return lock(root("pandas", "rich"), pkg("pandas", pandas, dependencies=refs),
                    pkg("rich", "13.5.0", dependencies=[{"name": "pygments"}]),
                    pkg("pygments", pygments), *numpy)

    forked = [fork("1.24.4", OLD_PY), fork("2.0.0", NEW_PY)]
    base = lockfile("2.15.0", "2.0", forked)
    ours = lockfile("2.16.0", "2.1", forked)
    theirs = lockfile("2.16.1", "2.0", [pkg("numpy", "2.0.0")])
    merged = merge_locks(base, ours, theirs, "drop")
    assert [c.name for c in merged.clashes] == ["pygments"]
    assert unreadable_references(merged.text) == []
    by_name = {p["name"]: p for p in parse_lock(merged.text).packages}
    assert by_name["rich"]["dependencies"] == []
    assert by_name["pandas"]["version"] == "2.1"
    assert by_name["pandas"]["dependencies"] == [{"name": "numpy", "marker": OLD_PY}]
    assert by_name["numpy"]["version"] == "2.0.0"
    assert "app" not in by_name  # left to uv, which must re-resolve this graph


def test_two_way_merge_is_a_union_with_clashes() -> None:
    ours = lock(root("click", "idna"), pkg("click", "8.1.7"), pkg("idna", "3.4"))
    theirs = lock(root("click", "six"), pkg("click", "8.1.6"), pkg("six", "1.16.0"))
    merged = merge_locks(None, ours, theirs, "ours")
    assert [(c.name, c.base, c.resolution) for c in merged.clashes] == [("click", (), "ours")]
    assert flat(merged.text) == {"click": "8.1.7", "idna": "3.4", "six": "1.16.0"}


def test_locks_of_different_revisions_merge_with_ours_header() -> None:
    old, new = fixture("project-uv0.5.31.lock"), fixture("project-uv0.13.8.lock")
    merged = merge_locks(old, old, new)  # theirs: a newer uv relocked
    assert merged.lock_version == "1" and "revision" not in merged.text
    assert parse_lock(merged.text).packages == parse_lock(new).packages
    merged = merge_locks(new, old, new)  # ours: an older uv relocked
    assert merged.lock_version == "1" and merged.text == old
    assert merge_locks(old, new, old).text == new
    bumped = new.replace('"8.2.0"', '"8.2.1"').replace("click-8.2.0", "click-8.2.1")
    merged = merge_locks(None, old, bumped)
    assert merged.lock_version == "1" and "revision" not in merged.text
    assert [c.name for c in merged.clashes] == ["click"]
    assert "click" not in flat(merged.text)
    assert unreadable_references(merged.text) == []


def test_top_level_keys_merge_three_way_with_ours_on_a_clash() -> None:
    manifest = {"members": ["app"]}
    base = lock(root(), manifest=manifest)
    py310: dict[str, Any] = {"requires-python": ">=3.10"}
    py311: dict[str, Any] = {"requires-python": ">=3.11"}
    ours = lock(root(), **py310, manifest=manifest)
    theirs = lock(root(), **py311,
                  manifest={**manifest, "constraints": [{"name": "x", "specifier": "<2"}]},
                  options={"prerelease-mode": "allow"})
    top = parse_lock(merge_locks(base, ours, theirs).text).top
    assert top["requires-python"] == ">=3.10"
    assert top["manifest"]["constraints"] == [{"name": "x", "specifier": "<2"}]
    assert top["options"] == {"prerelease-mode": "allow"}


def test_the_python_range_and_its_forks_come_from_one_side() -> None:
    forks: dict[str, Any] = {"resolution-markers": [NEW_PY, OLD_PY]}
    base = lock(root("click"), pkg("click", "8.1.6"))
    py310: dict[str, Any] = {"requires-python": ">=3.10"}
    ours = lock(root("click"), pkg("click", "8.1.6"), **py310)
    theirs = lock(root("click"), pkg("click", "8.1.6"), **forks)
    assert "resolution-markers" not in parse_lock(merge_locks(base, ours, theirs).text).top
    assert parse_lock(merge_locks(base, base, theirs).text).top == parse_lock(theirs).top
    assert parse_lock(merge_locks(None, base, theirs).text).top == parse_lock(base).top
    bare = render_lock(UvLock(1, 5, {}, (root("click"), pkg("click", "8.1.6"))))
    assert parse_lock(merge_locks(None, bare, theirs).text).top["resolution-markers"] == [
        NEW_PY, OLD_PY]


def test_crlf_locks_merge_with_ours_line_endings() -> None:
    ours = lock(root("click", "idna"), pkg("click", "8.1.7"), pkg("idna", "3.4"))
    merged = merge_locks(BASE, ours.replace("\n", "\r\n"), BASE)
    assert merged.text == ours.replace("\n", "\r\n")


# -- properties ----------------------------------------------------------------------------

NAMES = ["alpha", "Beta_pkg", "gamma"]
VERSIONS = ["1.0", "1.2", "2.0", "10.0b1"]
SOURCES = [REGISTRY, REGISTRY, OTHER_REGISTRY]


def refs_to(entries: list[dict[str, Any]], marker: bool = True) -> list[dict[str, Any]]:
    """References to a name's entries as uv writes them: bare for one, pinned for a fork."""
    if len(entries) == 1:
        return [{"name": entries[0]["name"]}]
    return [{"name": e["name"], "version": e["version"], "source": e["source"],
             **({"marker": e["resolution-markers"][0]} if marker else {})} for e in entries]


@st.composite
def locks(draw: st.DrawFn) -> str:
    """A readable uv lock: a virtual root depending on every other name, some names
    forked (two entries, pinned references), beta-pkg depending on alpha, sometimes a
    path dependency."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for name in draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=3)):
        count = draw(st.integers(1, 2))
        vs = draw(st.lists(st.sampled_from(VERSIONS), min_size=count, max_size=count,
                           unique=True))
        source = draw(st.sampled_from(SOURCES))
        for i, v in enumerate(sorted(vs, key=Version)):
            extra: dict[str, Any] = {}
            if count > 1:
                extra["resolution-markers"] = [[OLD_PY, NEW_PY][i]]
            if draw(st.booleans()):
                extra["size"] = draw(st.integers(1, 3))
            by_name.setdefault(canonical_name(name), []).append(pkg(name, v, source, **extra))
    if "alpha" in by_name and "beta-pkg" in by_name and draw(st.booleans()):
        for entry in by_name["beta-pkg"]:
            entry["dependencies"] = refs_to(by_name["alpha"], marker=False)
    if draw(st.booleans()):
        by_name["ext"] = [pkg("ext", draw(st.sampled_from(["0.1", "0.2"])), {"directory": "ext"})]
    refs = [r for entries in by_name.values() for r in refs_to(entries)]
    by_name["app"] = [pkg("app", "0.1.0", {"virtual": "."}, dependencies=refs)]
    packages = [e for name in sorted(by_name) for e in by_name[name]]
    text = lock(*packages, revision=draw(st.sampled_from([None, 5])))
    assert unreadable_references(text) == []
    return text


def registry_groups(text: str, *, identity: bool = False) -> dict[str, list[str]]:
    """Non-local entries by name, without their dependency edges (a repair may rewrite
    those); with ``identity`` only (version, source)."""
    out: dict[str, list[str]] = {}
    for p in parse_lock(text).packages:
        if not is_local(p):
            shown = (p.get("version"), p["source"]) if identity else sorted(
                (k, v) for k, v in p.items() if k != "dependencies")
            out.setdefault(canonical_name(p["name"]), []).append(repr(shown))
    return {k: sorted(v) for k, v in out.items()}


PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(x=locks(), policy=st.sampled_from(POLICIES))
def test_property_merging_a_lock_with_itself_is_the_identity(x: str, policy: LockPolicy) -> None:
    merged = merge_locks(x, x, x, policy)
    assert merged.text == x and merged.clashes == ()
    assert merge_locks(None, x, x, policy).text == x


@PROPS
@given(base=locks(), other=locks(), policy=st.sampled_from(POLICIES))
def test_property_one_sided_changes_are_kept_exactly(
    base: str, other: str, policy: LockPolicy
) -> None:
    theirs_changed = merge_locks(base, base, other, policy)
    ours_changed = merge_locks(base, other, base, policy)
    assert theirs_changed.clashes == () == ours_changed.clashes
    assert parse_lock(theirs_changed.text).packages == parse_lock(other).packages
    assert ours_changed.text == other


@PROPS
@given(base=st.one_of(st.none(), locks()), ours=locks(), theirs=locks(),
       policy=st.sampled_from(POLICIES))
def test_property_swapping_sides_and_policies_gives_the_same_resolution(
    base: str | None, ours: str, theirs: str, policy: LockPolicy
) -> None:
    swapped: dict[str, LockPolicy] = {"ours": "theirs", "theirs": "ours", "drop": "drop"}
    if policy == "higher":  # on equal highest versions, higher takes theirs
        return
    one = merge_locks(base, ours, theirs, policy)
    two = merge_locks(base, theirs, ours, swapped[policy])
    assert registry_groups(one.text, identity=True) == registry_groups(two.text, identity=True)
    swap = {"ours": "theirs", "theirs": "ours", "dropped": "dropped"}
    assert [(c.name, c.base, c.ours, c.theirs, c.resolution) for c in one.clashes] == [
        (c.name, c.base, c.theirs, c.ours, swap[c.resolution]) for c in two.clashes]


@PROPS
@given(base=st.one_of(st.none(), locks()), ours=locks(), theirs=locks(),
       policy=st.sampled_from(POLICIES))
def test_property_output_is_readable_and_every_group_comes_from_a_side(
    base: str | None, ours: str, theirs: str, policy: LockPolicy
) -> None:
    merged = merge_locks(base, ours, theirs, policy)
    assert merge_locks(base, ours, theirs, policy) == merged
    assert unreadable_references(merged.text) == []
    assert merged.lock_version == parse_lock(merged.text).lock_version
    assert merged.lock_version == parse_lock(ours).lock_version
    sides = [registry_groups(t) for t in (ours, theirs, *(() if base is None else (base,)))]
    got = registry_groups(merged.text)
    for name, group in got.items():
        assert any(side.get(name) == group for side in sides), name
    clashed = {c.name for c in merged.clashes}
    for name in clashed:
        if policy in ("drop", "ours", "theirs"):
            assert got.get(name) == {"drop": None, "ours": sides[0].get(name),
                                     "theirs": sides[1].get(name)}[policy], name
    if base is not None:
        # a name only one side changed (forks and their markers included) is that side's
        for name in set(sides[0]) | set(sides[1]) | set(sides[2]):
            if sides[0].get(name) == sides[2].get(name):
                assert got.get(name) == sides[1].get(name), name
            elif sides[1].get(name) == sides[2].get(name):
                assert got.get(name) == sides[0].get(name), name


# -- real uv ------------------------------------------------------------------------------

REQUESTS_DEPS = ["urllib3>=1.21,<3", "idna>=2.5,<4", "certifi>=2017.4.17"]


def write_project(path: Path, deps: list[str], requires_python: str = ">=3.9") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    quoted = ", ".join(f'"{d}"' for d in deps)
    (path / "pyproject.toml").write_text(
        f'[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = "{requires_python}"\n'
        f"dependencies = [{quoted}]\n"
    )
    return path


def locked(uv: UvExe, path: Path, deps: list[str], *args: str, **kw: Any) -> str:
    """Write the project, lock it (``uv lock *args``) and return the lock text."""
    write_project(path, deps, **kw)
    uv.run(["lock", *args], path)
    return (path / "uv.lock").read_text()


def relock(uv: UvExe, tmp_path: Path, deps: list[str], merged: str, **kw: Any) -> str:
    """The recipe: the merged manifest (by hand) and the preferred lock, then `uv lock`;
    the result must be fresh."""
    work = write_project(tmp_path / "merged", deps, **kw)
    (work / "uv.lock").write_text(merged)
    proc = uv.lock(work)
    assert "Failed to parse" not in proc.stderr, proc.stderr
    check = uv.check_lock(work)
    assert check.returncode == 0, check.stdout + check.stderr
    return (work / "uv.lock").read_text()


def publish_newer(index: PackageIndex) -> None:
    """Newer releases of what the project locks: a fresh resolve would take them."""
    index.add("requests", "2.32.0", REQUESTS_DEPS, ">=3.7")
    index.add("urllib3", "2.1.0", requires_python=">=3.7")
    index.add("idna", "3.7", requires_python=">=3.5")
    index.add("certifi", "2024.2.2", requires_python=">=3.6")


@pytest.mark.e2e
def test_uv_keeps_both_sides_one_sided_changes(uv: UvExe, index: PackageIndex,
                                               tmp_path: Path) -> None:
    deps = ["requests>=2.30", "click"]
    base = locked(uv, tmp_path / "base", deps)
    assert flat(base)["click"] == "8.1.7" and flat(base)["requests"] == "2.31.0"
    index.add("click", "8.1.8", requires_python=">=3.7")
    theirs = locked(uv, tmp_path / "theirs", deps, "--upgrade-package", "click")
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / "uv.lock").write_text(base)
    ours = locked(uv, tmp_path / "ours", [*deps, "rich"])
    publish_newer(index)
    assert flat(theirs)["click"] == "8.1.8" and "rich" in flat(ours)

    merged = merge_locks(base, ours, theirs)
    assert merged.clashes == ()
    result = flat(relock(uv, tmp_path, [*deps, "rich"], merged.text))
    assert result["click"] == "8.1.8"  # theirs' lock-only bump
    assert {k: result[k] for k in ("rich", "markdown-it-py", "pygments")} == {
        k: flat(ours)[k] for k in ("rich", "markdown-it-py", "pygments")}
    for name in ("requests", "urllib3", "idna", "certifi"):  # nobody upgraded these
        assert result[name] == flat(base)[name], name


@pytest.mark.e2e
@pytest.mark.parametrize("policy", ["drop", "higher"])
def test_uv_re_resolves_a_clash_within_the_merged_constraints(
    uv: UvExe, index: PackageIndex, tmp_path: Path, policy: LockPolicy
) -> None:
    """Ours constrains urllib3 below 2, theirs bumps it lock-only: a clash. Dropped, uv
    re-resolves it; kept at theirs' version (``higher``), the preferred lock names a
    version the merged manifest forbids, and uv moves it, gracefully."""
    deps = ["requests>=2.30", "click"]
    base = locked(uv, tmp_path / "base", deps)
    index.add("urllib3", "2.1.0", requires_python=">=3.7")
    theirs = locked(uv, tmp_path / "theirs", deps, "--upgrade-package", "urllib3")
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / "uv.lock").write_text(base)
    ours = locked(uv, tmp_path / "ours", [*deps, "urllib3<2"])
    assert (flat(base)["urllib3"], flat(ours)["urllib3"], flat(theirs)["urllib3"]) == (
        "2.0.7", "1.26.18", "2.1.0")
    index.add("requests", "2.32.0", REQUESTS_DEPS, ">=3.7")
    index.add("click", "8.1.8", requires_python=">=3.7")

    merged = merge_locks(base, ours, theirs, policy)
    assert [(c.name, c.resolution) for c in merged.clashes] == [
        ("urllib3", "dropped" if policy == "drop" else "theirs")]
    result = flat(relock(uv, tmp_path, [*deps, "urllib3<2"], merged.text))
    assert result["urllib3"] == "1.26.18"
    assert result["requests"] == "2.31.0" and result["click"] == "8.1.7"


@pytest.mark.e2e
@pytest.mark.parametrize("policy", ["drop", "higher"])
def test_uv_drops_entries_of_a_removed_dependency(
    uv: UvExe, index: PackageIndex, tmp_path: Path, policy: LockPolicy
) -> None:
    """Ours removes rich; theirs bumps pygments (one of rich's) lock-only. ``higher``
    keeps theirs' pygments in the preferred lock though nothing needs it any more."""
    deps = ["requests>=2.30", "click"]
    base = locked(uv, tmp_path / "base", [*deps, "rich"])
    index.add("pygments", "2.17.0")
    theirs = locked(uv, tmp_path / "theirs", [*deps, "rich"], "--upgrade-package", "pygments")
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / "uv.lock").write_text(base)
    ours = locked(uv, tmp_path / "ours", deps)
    assert "pygments" not in flat(ours) and flat(theirs)["pygments"] == "2.17.0"
    publish_newer(index)

    merged = merge_locks(base, ours, theirs, policy)
    assert ("pygments" in flat(merged.text)) == (policy == "higher")
    result = flat(relock(uv, tmp_path, deps, merged.text))
    assert not {"rich", "pygments", "mdurl", "markdown-it-py"} & set(result)
    assert {k: result[k] for k in result} == {k: flat(base)[k] for k in result}


@pytest.mark.e2e
def test_uv_keeps_a_forked_resolution(uv: UvExe, index: PackageIndex, tmp_path: Path) -> None:
    """numpy locked twice (one entry per Python range); theirs bumps both forks, ours
    adds a dependency; both forks and the addition survive, nothing else moves."""
    index.add("numpy", "1.24.4", requires_python=">=3.8")
    index.add("numpy", "2.0.0", requires_python=">=3.9")
    deps = ["requests>=2.30", "numpy<2; python_version<'3.9'", "numpy>=2; python_version>='3.9'"]
    kw = {"requires_python": ">=3.8"}
    base = locked(uv, tmp_path / "base", deps, **kw)
    assert versions(base)["numpy"] == ["1.24.4", "2.0.0"]
    index.add("numpy", "1.24.5", requires_python=">=3.8")
    index.add("numpy", "2.0.1", requires_python=">=3.9")
    theirs = locked(uv, tmp_path / "theirs", deps, "--upgrade-package", "numpy", **kw)
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / "uv.lock").write_text(base)
    ours = locked(uv, tmp_path / "ours", [*deps, "click"], **kw)
    assert versions(theirs)["numpy"] == ["1.24.5", "2.0.1"]
    publish_newer(index)
    index.add("click", "8.1.8", requires_python=">=3.7")

    merged = merge_locks(base, ours, theirs)
    assert merged.clashes == ()
    result = relock(uv, tmp_path, [*deps, "click"], merged.text, **kw)
    assert versions(result)["numpy"] == ["1.24.5", "2.0.1"]
    assert flat(result)["click"] == "8.1.7"
    for name in ("requests", "urllib3", "idna", "certifi"):
        assert flat(result)[name] == flat(base)[name], name
    forks = {p["version"]: p.get("resolution-markers") for p in parse_lock(result).packages
             if p["name"] == "numpy"}
    assert forks == {"1.24.5": [OLD_PY], "2.0.1": [NEW_PY]}


def with_release(text: str, index: PackageIndex, name: str, version: str) -> str:
    """``text`` with ``name`` locked at ``version``, as the test index serves it."""
    parsed = parse_lock(text)
    wheel = {"url": f"{index.root}/files/{index.wheel(name, version)[0]}",
             "hash": "sha256:" + index.sha256(name, version)}
    packages = tuple({**p, "version": version, "wheels": [wheel]} if p["name"] == name else p
                     for p in parsed.packages)
    return render_lock(dataclasses.replace(parsed, packages=packages))


@pytest.mark.e2e
def test_uv_reads_merges_of_locks_from_both_uv_lines(
    uv: UvExe, index: PackageIndex, tmp_path: Path
) -> None:
    """The fixtures (the same resolution written by uv 0.13.8, ``revision = 5``, and by
    uv 0.5.31, none): one side relocked with the other uv line and moved requests, the
    other moved click. Whichever header wins, this uv reads the merge and keeps both."""
    index.add("click", "8.2.0")
    index.add("numpy", "1.24.4", requires_python=">=3.8")
    index.add("numpy", "2.0.0", requires_python=">=3.9")
    port = re.search(r"127\.0\.0\.1:\d+", fixture(FIXTURES[0]))
    assert port is not None
    here = index.root.split("//")[1]
    new = fixture("project-uv0.13.8.lock").replace(port.group(0), here)
    old = fixture("project-uv0.5.31.lock").replace(port.group(0), here)
    old_requests = with_release(old, index, "requests", "2.30.0")
    new_click = with_release(new, index, "click", "8.1.7")
    publish_newer(index)
    index.add("numpy", "2.0.1", requires_python=">=3.9")
    manifest = (
        '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.8"\n'
        'dependencies = ["requests>=2.30", "click", "numpy<2; python_version<\'3.9\'",\n'
        '    "numpy>=2; python_version>=\'3.9\'"]\n\n'
        '[dependency-groups]\ndev = ["pytest"]\n\n[project.optional-dependencies]\n'
        'fancy = ["rich"]\n'
    )
    for ours, theirs, header in ((old_requests, new_click, "1"), (new_click, old_requests, "1.5")):
        merged = merge_locks(new, ours, theirs)
        assert merged.clashes == () and merged.lock_version == header
        work = tmp_path / f"merged-{header}"
        work.mkdir()
        (work / "pyproject.toml").write_text(manifest)
        (work / "uv.lock").write_text(merged.text)
        proc = uv.lock(work)
        assert "Failed to parse" not in proc.stderr
        assert uv.check_lock(work).returncode == 0
        result = (work / "uv.lock").read_text()
        assert flat(result)["click"] == "8.1.7" and flat(result)["requests"] == "2.30.0"
        assert versions(result)["numpy"] == ["1.24.4", "2.0.0"]
        assert flat(result)["urllib3"] == "2.0.7" and flat(result)["idna"] == "3.6"


@pytest.mark.e2e
def test_uv_re_resolves_a_fork_the_merged_python_range_excludes(
    uv: UvExe, index: PackageIndex, tmp_path: Path
) -> None:
    """Theirs forks numpy by Python version (new top-level ``resolution-markers``, one
    entry per fork); ours raises ``requires-python`` past the older fork. The preferred
    lock has ours' range and theirs' two numpy entries, one for Pythons the merged
    project no longer supports: uv reads it and drops that fork. (With ours' range and
    theirs' top-level forks, uv 0.13.8 wrote ``resolution-markers = ["python_version <
    '0'"]`` and then failed its own ``uv lock --check``.)"""
    index.add("numpy", "1.24.4", requires_python=">=3.8")
    index.add("numpy", "2.0.0", requires_python=">=3.9")
    forked = ["requests>=2.30", "numpy<2; python_version<'3.9'", "numpy>=2; python_version>='3.9'"]
    base = locked(uv, tmp_path / "base", ["requests>=2.30", "numpy<2"], requires_python=">=3.8")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "uv.lock").write_text(base)
    theirs = locked(uv, tmp_path / "theirs", forked, requires_python=">=3.8")
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / "uv.lock").write_text(base)
    ours = locked(uv, tmp_path / "ours", ["requests>=2.30", "numpy<2", "click"],
                  requires_python=">=3.10")
    assert "resolution-markers" in parse_lock(theirs).top
    assert versions(theirs)["numpy"] == ["1.24.4", "2.0.0"]
    publish_newer(index)

    merged = merge_locks(base, ours, theirs)
    top = parse_lock(merged.text).top
    assert top == parse_lock(ours).top  # the Python range and its forks, from one side
    assert versions(merged.text)["numpy"] == ["1.24.4", "2.0.0"]
    result = relock(uv, tmp_path, [*forked, "click"], merged.text, requires_python=">=3.10")
    assert versions(result)["numpy"] == ["2.0.0"]
    assert flat(result)["click"] == "8.1.7"
    for name in ("requests", "urllib3", "idna", "certifi"):
        assert flat(result)[name] == flat(base)[name], name


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def write_workspace(path: Path, members: dict[str, list[str]]) -> Path:
    """A workspace: a root project (virtual: no build system) depending on every member,
    members under packages/ (built by hatchling, so locked as editable) whose
    dependencies on each other resolve in the workspace."""
    path.mkdir(parents=True, exist_ok=True)
    sources = "".join(f"{m} = {{ workspace = true }}\n" for m in members)
    (path / "pyproject.toml").write_text(
        '[project]\nname = "root"\nversion = "0.1.0"\nrequires-python = ">=3.9"\n'
        f"dependencies = {toml_list(list(members))}\n\n"
        f'[tool.uv.workspace]\nmembers = ["packages/*"]\n\n[tool.uv.sources]\n{sources}'
    )
    for member, deps in members.items():
        pkg_dir = path / "packages" / member
        (pkg_dir / "src" / member).mkdir(parents=True, exist_ok=True)
        (pkg_dir / "src" / member / "__init__.py").write_text("")
        local = "".join(f"{d} = {{ workspace = true }}\n" for d in deps if d in members)
        (pkg_dir / "pyproject.toml").write_text(
            f'[project]\nname = "{member}"\nversion = "1.0.0"\nrequires-python = ">=3.9"\n'
            f"dependencies = {toml_list(deps)}\n\n"
            f"[tool.uv.sources]\n{local}\n"
            '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        )
    return path


@pytest.mark.e2e
def test_uv_merges_a_workspace(uv: UvExe, index: PackageIndex, tmp_path: Path) -> None:
    """Ours adds a dependency to a member; theirs adds a member and bumps attrs lock-only.
    Member entries never clash, theirs' [manifest] members win, uv re-resolves the
    mixed graph keeping every version either side locked."""
    members = {"core": ["requests>=2.30"], "api": ["core", "attrs"]}
    base_dir = write_workspace(tmp_path / "base", members)
    uv.lock(base_dir)
    base = (base_dir / "uv.lock").read_text()
    assert {p["name"]: p["source"] for p in parse_lock(base).packages if is_local(p)} == {
        "api": {"editable": "packages/api"},
        "core": {"editable": "packages/core"},
        "root": {"virtual": "."},
    }
    index.add("attrs", "24.1.0", requires_python=">=3.8")
    theirs_members = {**members, "worker": ["six", "core"]}
    theirs_dir = write_workspace(tmp_path / "theirs", theirs_members)
    (theirs_dir / "uv.lock").write_text(base)
    uv.run(["lock", "--upgrade-package", "attrs"], theirs_dir)
    theirs = (theirs_dir / "uv.lock").read_text()
    ours_members = {**members, "api": ["core", "attrs", "click"]}
    ours_dir = write_workspace(tmp_path / "ours", ours_members)
    (ours_dir / "uv.lock").write_text(base)
    uv.lock(ours_dir)
    ours = (ours_dir / "uv.lock").read_text()
    assert flat(theirs)["attrs"] == "24.1.0" and flat(ours)["click"] == "8.1.7"
    publish_newer(index)
    index.add("click", "8.1.8", requires_python=">=3.7")

    merged = merge_locks(base, ours, theirs)
    assert merged.clashes == ()
    assert parse_lock(merged.text).top["manifest"]["members"] == ["api", "core", "root", "worker"]
    work = write_workspace(tmp_path / "merged", {**theirs_members, **ours_members})
    (work / "uv.lock").write_text(merged.text)
    proc = uv.lock(work)
    assert "Failed to parse" not in proc.stderr
    assert uv.check_lock(work).returncode == 0
    result = flat((work / "uv.lock").read_text())
    assert result["attrs"] == "24.1.0" and result["click"] == "8.1.7" and "six" in result
    assert {"api", "core", "worker", "root"} <= set(result)
    for name in ("requests", "urllib3", "idna", "certifi"):
        assert result[name] == flat(base)[name], name
