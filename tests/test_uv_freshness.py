"""Native uv.lock freshness (``lockfix.backends.uv.freshness``).

Unit tests first, then the differential table: each row locks a small project with real
uv (0.13.8 unless the row says which uv wrote the lock), changes its pyproject files (or
not), and asks real ``uv lock --check`` (against the local test index) for its verdict.
lockfix's verdict must equal uv's, and uv's must equal the row's expectation, so that a
row that stopped exercising what it names fails instead of agreeing vacuously.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet

from lockfix.backends.uv.freshness import (
    UvFreshness,
    _fast_package,
    _norm_marker,
    _python_range,
    _same_marker,
    freshness,
    is_uv_project,
    workspace_members,
    workspace_root,
)
from lockfix.errors import LockfixError, MalformedToml
from lockfix.localindex import PackageIndex
from lockfix.toml import load_toml
from tests.support.uv import UvExe, discover_uvs, uv_env, uv_version_of

# ----------------------------------------------------------------------------- unit

LOCK_HEAD = """\
version = 1
revision = 3
requires-python = ">=3.9"
"""

CORE_PYPROJECT = {
    "project": {
        "name": "core",
        "version": "0.1.0",
        "dependencies": ["click>=8.1"],
    },
    "build-system": {"requires": ["hatchling"], "build-backend": "hatchling.build"},
}

APP_LOCK = (
    LOCK_HEAD
    + """
[[package]]
name = "app"
version = "0.1.0"
source = { virtual = "." }
dependencies = [
    { name = "core" },
    { name = "six", marker = "sys_platform == 'linux'" },
]

[package.metadata]
requires-dist = [
    { name = "core", editable = "../core" },
    { name = "six", marker = "python_full_version >= '3.10' and sys_platform == 'linux'" },
]

[[package]]
name = "click"
version = "8.1.7"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://example.invalid/click-8.1.7.tar.gz", hash = "sha256:00" }

[[package]]
name = "core"
version = "0.1.0"
source = { editable = "../core" }
dependencies = [
    { name = "click" },
]

[package.metadata]
requires-dist = [{ name = "click", specifier = ">=8.1" }]
"""
)


def app_manifests(**app_project: Any) -> dict[str, Mapping[str, Any]]:
    project = {
        "name": "app",
        "version": "0.1.0",
        "requires-python": ">=3.9",
        "dependencies": ["core", "six; sys_platform == 'linux' and python_version >= '3.10'"],
        **app_project,
    }
    return {
        "app": {
            "project": project,
            "tool": {"uv": {"sources": {"core": {"path": "../core", "editable": True}}}},
        },
        "core": CORE_PYPROJECT,
    }


def test_unchanged_project_is_fresh() -> None:
    assert freshness(APP_LOCK, "app", app_manifests()) == UvFreshness(True, ())


def test_added_dependency_is_named() -> None:
    manifests = app_manifests(
        dependencies=["core", "six; sys_platform == 'linux' and python_version >= '3.10'", "six>=1.16"]
    )
    verdict = freshness(APP_LOCK, "app", manifests)
    assert not verdict.fresh
    assert verdict.reasons == ('requires-dist of app changed: added "six>=1.16"',)


def test_path_dependency_drift_has_its_own_reason() -> None:
    manifests = app_manifests()
    manifests["core"] = {
        **CORE_PYPROJECT,
        "project": {**CORE_PYPROJECT["project"], "dependencies": ["click>=8.1", "six"]},
    }
    verdict = freshness(APP_LOCK, "app", manifests)
    assert verdict.reasons == ('requires-dist of path dependency core (../core) changed: added "six"',)


def test_equivalent_spellings_are_fresh() -> None:
    manifests = app_manifests(
        dependencies=["CORE", "Six ; python_full_version >= '3.10.0' and 'linux' == sys_platform"]
    )
    assert freshness(APP_LOCK, "app", manifests).fresh


def test_marker_simplified_against_requires_python() -> None:
    deps = ["core", "six; sys_platform == 'linux' and python_version >= '3.10' and python_version > '3.8'"]
    assert freshness(APP_LOCK, "app", app_manifests(dependencies=deps)).fresh
    deps = ["core", "six; sys_platform == 'linux' and python_version >= '3.11'"]
    assert not freshness(APP_LOCK, "app", app_manifests(dependencies=deps)).fresh


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ('python_version <= "3.10"', "python_full_version < '3.11'", True),
        ('python_version == "3.10"', "python_full_version >= '3.10' and python_full_version < '3.11'", True),
        ('python_version > "3.9"', "python_full_version >= '3.10'", True),
        ('python_version > "3.9"', "python_full_version > '3.9'", False),  # 3.9.1 tells them apart
        ('python_version >= "3.8"', "", True),  # always true under requires-python >=3.9
        ('sys_platform == "linux" or os_name == "nt"', "os_name == 'nt' or sys_platform == 'linux'", True),
        ('sys_platform == "linux"', 'sys_platform != "win32"', False),
        ('extra == "Fast_Io"', "extra == 'fast-io'", True),
    ],
)
def test_markers_are_compared_by_meaning(a: str, b: str, same: bool) -> None:
    norm = [_norm_marker(m) for m in (a, b)]
    assert _same_marker(norm[0], norm[1], SpecifierSet(">=3.9")) is same


def test_requires_python_is_compared_as_a_range() -> None:
    assert freshness(APP_LOCK, "app", app_manifests(**{"requires-python": ">=3.9.0"})).fresh
    verdict = freshness(APP_LOCK, "app", app_manifests(**{"requires-python": ">=3.9,<4"}))
    assert verdict.reasons == ('requires-python changed: lock has ">=3.9", the project declare ">=3.9,<4"',)


def test_unparsable_lock_raises() -> None:
    with pytest.raises(MalformedToml) as info:
        freshness(LOCK_HEAD + "[manifest\n", "app", app_manifests())
    assert info.value.where == "app/uv.lock"
    broken_local = APP_LOCK.replace('requires-dist = [{ name = "click"', 'requires-dist = [{ name = "click" ')
    broken_local = broken_local.replace('specifier = ">=8.1" }]', 'specifier = ">=8.1" ]')
    with pytest.raises(MalformedToml):
        freshness(broken_local, "app", app_manifests())
    with pytest.raises(LockfixError):
        freshness("[tool]\nx = 1\n", "app", app_manifests())


def test_workspace_members_follow_globs_and_excludes() -> None:
    project = {"project": {"name": "x", "version": "1"}}
    manifests: dict[str, Mapping[str, Any]] = {
        "": {"tool": {"uv": {"workspace": {"members": ["libs/*", "apps/**"], "exclude": ["libs/old"]}}}},
        "libs/a": project,
        "libs/old": project,
        "libs/a/nested": project,
        "apps/x/y": project,
        "tools/z": project,
        "libs/noproject": {"tool": {"uv": {}}},
    }
    assert workspace_members("", manifests) == ["apps/x/y", "libs/a"]
    assert workspace_root("libs/a", manifests) == ""
    assert workspace_root("tools/z", manifests) is None
    assert is_uv_project("libs/a", manifests)  # a member, without [tool.uv] of its own
    assert is_uv_project("libs/noproject", manifests)  # has [tool.uv]
    assert not is_uv_project("tools/z", manifests)  # plain PEP 621, no workspace
    assert not is_uv_project("missing", manifests)


def test_unusual_layout_falls_back_to_tomllib() -> None:
    """The fast reader takes only uv's own layout; a comment or an escape sends the
    table to tomllib, which must give the same verdict."""
    commented = APP_LOCK.replace(
        'requires-dist = [{ name = "click", specifier = ">=8.1" }]',
        '# edited by hand\nrequires-dist = [{ name = "click", specifier = "\\u003e=8.1" }]',
    )
    assert commented != APP_LOCK
    assert freshness(commented, "app", app_manifests()).fresh
    chunk = commented[commented.index('[[package]]\nname = "core"') :]
    assert _fast_package(chunk) is None
    plain = APP_LOCK[APP_LOCK.index('[[package]]\nname = "core"') :]
    fast = _fast_package(plain)
    assert fast is not None
    assert fast["metadata"]["requires-dist"] == ['{ name = "click", specifier = ">=8.1" }']
    assert fast["source"] == {"editable": "../core"}


def test_crlf_lock_is_read() -> None:
    """A Windows checkout with core.autocrlf gives uv.lock CRLF line ends; uv reads it."""
    crlf = APP_LOCK.replace("\n", "\r\n")
    assert freshness(crlf, "app", app_manifests()).fresh
    assert not freshness(crlf, "app", app_manifests(dependencies=["core"])).fresh


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (">=3.9", ">=3.9.0", True),
        (">=3.9", ">=3.9,!=3.9.1", True),  # uv compares the range, not the holes
        ("~=3.9", ">=3.9,<4", True),
        ("==3.10.*", ">=3.10,<3.11", True),
        (">=3.9", ">=3.10", False),
        (">=3.9", ">=3.9,<4", False),
        (">=3.9,<=3.12", ">=3.9,<3.12", False),
    ],
)
def test_requires_python_range(a: str, b: str, same: bool) -> None:
    assert (_python_range(a) == _python_range(b)) is same


def test_git_and_url_sources_are_compared_as_sources() -> None:
    lock = (
        LOCK_HEAD
        + """
[[package]]
name = "app"
version = "0.1.0"
source = { virtual = "." }

[package.metadata]
requires-dist = [
    { name = "lib", git = "https://example.invalid/org/lib?tag=v1" },
    { name = "wheel-only", url = "https://example.invalid/wheel_only-1.0-py3-none-any.whl" },
]
"""
    )

    def manifests(tag: str) -> dict[str, Mapping[str, Any]]:
        return {
            "": {
                "project": {
                    "name": "app",
                    "version": "0.1.0",
                    "requires-python": ">=3.9",
                    "dependencies": [
                        "lib",
                        "wheel-only @ https://example.invalid/wheel_only-1.0-py3-none-any.whl",
                    ],
                },
                "tool": {"uv": {"sources": {"lib": {"git": "https://example.invalid/org/lib", "tag": tag}}}},
            }
        }

    assert freshness(lock, "", manifests("v1")).fresh
    verdict = freshness(lock, "", manifests("v2"))
    assert not verdict.fresh
    assert verdict.reasons[0].startswith('requires-dist of app changed: added "lib"')


def test_dynamic_dependencies_are_not_judged() -> None:
    manifests = app_manifests()
    manifests["core"] = {
        **CORE_PYPROJECT,
        "project": {"name": "core", "version": "0.1.0", "dynamic": ["dependencies"]},
    }
    assert freshness(APP_LOCK, "app", manifests).fresh  # uv would have to build core


def test_lock_level_findings() -> None:
    assert freshness(
        APP_LOCK.replace("version = 1\n", "version = 2\n", 1), "app", app_manifests()
    ).reasons == ("lock schema version 2 is not the one uv writes (1)",)
    no_app = (
        APP_LOCK[: APP_LOCK.index("[[package]]")] + APP_LOCK[APP_LOCK.index('[[package]]\nname = "click"') :]
    )
    assert "app (app) is not in the lock" in freshness(no_app, "app", app_manifests()).reasons
    assert freshness(APP_LOCK, "elsewhere", app_manifests()).reasons == (
        "no pyproject.toml next to elsewhere/uv.lock",
    )


# ----------------------------------------------------------------------- differential

CURRENT_UV = (0, 13, 8)
OLD_UV = (0, 5, 31)


def _uv_path(version: tuple[int, ...]) -> Path:
    for path in discover_uvs():
        if uv_version_of(path) == version:
            return path
    raise RuntimeError(f"uv {'.'.join(map(str, version))} is not installed (./dev setup)")


BUILD = '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'

CORE = (
    """\
[project]
name = "core"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = ["click>=8.1"]

[project.optional-dependencies]
fast = ["six; python_version < '3.12'"]

"""
    + BUILD
)

APP = (
    """\
[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = [
    "requests>=2.30,<3",
    "typing_extensions>=4.0",
    "core[fast]",
    "attrs; sys_platform == 'linux' and python_version >= '3.10'",
]

[dependency-groups]
test = ["pytest>=7"]

[tool.uv]
dev-dependencies = ["rich"]
constraint-dependencies = ["idna<4"]

[tool.uv.sources]
core = { path = "../core", editable = true }

"""
    + BUILD
)

PROJECT = {"core/pyproject.toml": CORE, "app/pyproject.toml": APP}

WS_ROOT = """\
[project]
name = "root"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = ["lib", "click"]

[tool.uv.workspace]
members = ["packages/*"]

[tool.uv.sources]
lib = { workspace = true }

[tool.uv]
override-dependencies = ["idna==3.4"]
"""

WS_LIB = (
    """\
[project]
name = "lib"
version = "1.0"
requires-python = ">=3.10"
dependencies = ["requests"]

"""
    + BUILD
)

WS_CLI = """\
[project]
name = "cli"
version = "0.2"
requires-python = ">=3.9"
dependencies = ["lib"]

[tool.uv.sources]
lib = { workspace = true }
"""

WORKSPACE = {
    "pyproject.toml": WS_ROOT,
    "packages/lib/pyproject.toml": WS_LIB,
    "packages/cli/pyproject.toml": WS_CLI,
}

# A workspace whose root is no project: its groups are recorded in [manifest].
VIRTUAL_ROOT = {
    "pyproject.toml": '[tool.uv.workspace]\nmembers = ["packages/*"]\n\n'
    '[dependency-groups]\ndev = ["pytest>=7", "lib"]\n\n[tool.uv.sources]\nlib = { workspace = true }\n\n'
    '[tool.uv]\ndev-dependencies = ["six"]\nbuild-constraint-dependencies = ["hatchling<2"]\n',
    "packages/lib/pyproject.toml": WS_LIB,
    "packages/cli/pyproject.toml": WS_CLI,
}

# requests from the index on Linux and macOS, from the default index elsewhere (uv
# splits such a requirement per source entry, plus the uncovered rest).
MARKED = {
    **PROJECT,
    "app/pyproject.toml": APP.replace(
        "[tool.uv.sources]",
        '[[tool.uv.index]]\nname = "local"\nurl = "{INDEX}"\n\n[tool.uv.sources]\nrequests = [\n'
        '    { index = "local", marker = "sys_platform == \'linux\'" },\n'
        '    { index = "local", marker = "sys_platform == \'darwin\'" },\n]',
    ),
}
LINUX = "marker = \"sys_platform == 'linux'\""

# A project that declares a workspace without other members.
SOLO = {"pyproject.toml": WS_ROOT.replace('members = ["packages/*"]', "members = []").replace('"lib", ', "")}

# The app with requests from a named index (the test index under another name).
INDEXED = {
    **PROJECT,
    "app/pyproject.toml": APP.replace(
        "[tool.uv.sources]",
        '[[tool.uv.index]]\nname = "local"\nurl = "{INDEX}"\n\n'
        '[tool.uv.sources]\nrequests = { index = "local" }',
    ),
}

EXTRA_MEMBER = (
    '[project]\nname = "extra"\nversion = "0.1"\nrequires-python = ">=3.9"\ndependencies = ["six"]\n'
)


@dataclass(frozen=True)
class Case:
    """One row: ``edits`` are (file, old, new) replacements applied after locking (``old``
    must occur, or the row is broken); ``files`` are whole files written after locking."""

    id: str
    stale: bool
    base: Mapping[str, str] = field(default_factory=lambda: PROJECT)
    lock_dir: str = "app"
    edits: tuple[tuple[str, str, str], ...] = ()
    files: Mapping[str, str] = field(default_factory=dict)
    locked_by: tuple[int, ...] = CURRENT_UV


def app(id: str, stale: bool, *edits: tuple[str, str, str], **kw: Any) -> Case:
    return Case(id, stale, edits=edits, **kw)


def ws(id: str, stale: bool, *edits: tuple[str, str, str], **kw: Any) -> Case:
    return Case(id, stale, lock_dir="", edits=edits, **{"base": WORKSPACE, **kw})


A, C = "app/pyproject.toml", "core/pyproject.toml"
R, L, K = "pyproject.toml", "packages/lib/pyproject.toml", "packages/cli/pyproject.toml"
ATTRS = "\"attrs; sys_platform == 'linux' and python_version >= '3.10'\""

CASES = [
    # -- a single project with a path dependency
    app("unchanged", False),
    app("dependency added", True, (A, '"core[fast]",', '"core[fast]",\n    "six>=1.16",')),
    app("dependency removed", True, (A, f"    {ATTRS},\n", "")),
    app("dependency re-constrained", True, (A, '"requests>=2.30,<3"', '"requests>=2.31,<3"')),
    app("specifier set reordered and padded", False, (A, '"requests>=2.30,<3"', '"requests <3.0, >=2.30.0"')),
    app("name spelled differently", False, (A, '"typing_extensions>=4.0"', '"Typing.Extensions >= 4"')),
    app(
        "marker clauses reordered",
        False,
        (A, ATTRS, "\"attrs; python_version >= '3.10' and sys_platform == 'linux'\""),
    ),
    app(
        "marker in python_full_version",
        False,
        (A, ATTRS, "\"attrs; sys_platform == 'linux' and python_full_version >= '3.10'\""),
    ),
    app(
        "marker clause implied by requires-python",
        False,
        (
            A,
            ATTRS,
            "\"attrs; sys_platform == 'linux' and python_version >= '3.10' and python_version > '3.8'\"",
        ),
    ),
    app(
        "marker changed", True, (A, ATTRS, "\"attrs; sys_platform == 'linux' and python_version >= '3.11'\"")
    ),
    app("marker dropped", True, (A, ATTRS, '"attrs"')),
    app("extra of a dependency dropped", True, (A, '"core[fast]"', '"core"')),
    app(
        "optional dependencies added",
        True,
        (A, "[dependency-groups]", '[project.optional-dependencies]\ncli = ["click"]\n\n[dependency-groups]'),
    ),
    app(
        "dependency group added (PEP 735)",
        True,
        (A, 'test = ["pytest>=7"]', 'test = ["pytest>=7"]\nlint = ["six"]'),
    ),
    app("empty dependency group added", True, (A, 'test = ["pytest>=7"]', 'test = ["pytest>=7"]\nlint = []')),
    app("dependency group re-constrained", True, (A, '"pytest>=7"', '"pytest>=7.4"')),
    app(
        "dependency group spelled differently", False, (A, 'test = ["pytest>=7"]', 'Test = ["PyTest >= 7.0"]')
    ),
    app(
        "dependency group via include-group",
        True,
        (A, 'test = ["pytest>=7"]', 'test = [{include-group = "base"}]\nbase = ["pytest>=7"]'),
    ),
    app("[tool.uv] dev-dependencies added to", True, (A, '["rich"]', '["rich", "six"]')),
    app("[tool.uv] dev-dependencies spelled differently", False, (A, '["rich"]', '["Rich"]')),
    app("path source made non-editable", True, (A, "editable = true", "editable = false")),
    app(
        "index source added",
        True,
        (
            A,
            "[tool.uv.sources]",
            '[[tool.uv.index]]\nname = "local"\nurl = "{INDEX}"\n\n'
            '[tool.uv.sources]\nrequests = { index = "local" }',
        ),
    ),
    app("requires-python raised", True, (A, 'requires-python = ">=3.9"', 'requires-python = ">=3.10"')),
    app(
        "requires-python spelled differently",
        False,
        (A, 'requires-python = ">=3.9"', 'requires-python = ">=3.9.0"'),
    ),
    app("constraint re-constrained", True, (A, '["idna<4"]', '["idna<3.6"]')),
    app("constraint spelled differently", False, (A, '["idna<4"]', '["IDNA < 4.0"]')),
    app(
        "override added",
        True,
        (
            A,
            "constraint-dependencies",
            'override-dependencies = ["certifi==2023.7.22"]\nconstraint-dependencies',
        ),
    ),
    app(
        "resolution strategy changed",
        True,
        (A, "dev-dependencies", 'resolution = "lowest-direct"\ndev-dependencies'),
    ),
    # -- path-dependency drift: only the sibling's pyproject changes
    app("path dependency: dependency added", True, (C, '["click>=8.1"]', '["click>=8.1", "six"]')),
    app("path dependency: version changed", True, (C, 'version = "0.1.0"', 'version = "0.2"')),
    app("path dependency: version respelled", False, (C, 'version = "0.1.0"', 'version = "0.1"')),
    app(
        "path dependency: extra added",
        True,
        (C, "[project.optional-dependencies]", '[project.optional-dependencies]\nslow = ["attrs"]'),
    ),
    app(
        "path dependency: dependency group added",
        True,
        (
            C,
            "[project.optional-dependencies]",
            '[dependency-groups]\ndev = ["six"]\n\n[project.optional-dependencies]',
        ),
    ),
    app(
        "path dependency: requires-python raised",
        False,
        (C, 'requires-python = ">=3.9"', 'requires-python = ">=3.10"'),
    ),
    app("path dependency: reformatted", False, (C, '["click>=8.1"]', '[\n  "Click >= 8.1",  # the CLI\n]')),
    # -- a workspace
    ws("workspace unchanged", False),
    ws("workspace member added", True, files={"packages/extra/pyproject.toml": EXTRA_MEMBER}),
    ws(
        "workspace member excluded",
        True,
        (R, 'members = ["packages/*"]', 'members = ["packages/*"]\nexclude = ["packages/cli"]'),
    ),
    ws("workspace member dependency added", True, (L, '["requests"]', '["requests", "six"]')),
    ws("workspace member becomes a package", True, (K, "[tool.uv.sources]", BUILD + "\n[tool.uv.sources]")),
    ws("workspace requires-python intersection raised", True, (L, '">=3.10"', '">=3.11"')),
    ws("workspace requires-python inside the intersection", False, (K, '">=3.9"', '">=3.10"')),
    ws("workspace override spelled differently", False, (R, '["idna==3.4"]', '["IDNA == 3.4.0"]')),
    ws(
        "workspace source made non-editable",
        True,
        (R, "lib = { workspace = true }", "lib = { workspace = true, editable = false }"),
    ),
    # -- locks written by uv 0.5.31 (no `revision`, no provides-extras), judged by 0.13.8
    app("old lock unchanged", False, locked_by=OLD_UV),
    app(
        "old lock, dependency added",
        True,
        (A, '"core[fast]",', '"core[fast]",\n    "six",'),
        locked_by=OLD_UV,
    ),
    app(
        "old lock, path dependency extra added",
        True,
        (C, "[project.optional-dependencies]", '[project.optional-dependencies]\nslow = ["attrs"]'),
        locked_by=OLD_UV,
    ),
    ws("old workspace lock unchanged", False, locked_by=OLD_UV),
    # -- more sources and layouts
    app(
        "named index renamed, same URL",
        False,
        (A, '"local"', '"mirror"'),
        (A, '"local"', '"mirror"'),
        base=INDEXED,
    ),
    app("named index source removed", True, (A, 'requests = { index = "local" }', ""), base=INDEXED),
    ws(
        "member opts into packaging ([tool.uv] package)",
        True,
        (K, "[tool.uv.sources]", "[tool.uv]\npackage = true\n\n[tool.uv.sources]"),
    ),
    app("sources with markers unchanged", False, base=MARKED),
    app(
        "sources with markers: marker respelled",
        False,
        (A, LINUX, "marker = \"'linux' == sys_platform\""),
        base=MARKED,
    ),
    app(
        "sources with markers: marker changed",
        True,
        (A, LINUX, "marker = \"sys_platform == 'win32'\""),
        base=MARKED,
    ),
    app(
        "sources with markers: requirement re-marked",
        True,
        (A, '"requests>=2.30,<3"', "\"requests>=2.30,<3; python_version >= '3.10'\""),
        base=MARKED,
    ),
    ws("virtual root unchanged", False, base=VIRTUAL_ROOT),
    ws(
        "virtual root: [tool.uv] dev-dependencies changed",
        True,
        (R, '["six"]', '["six>=1"]'),
        base=VIRTUAL_ROOT,
    ),
    ws(
        "virtual root: build constraint changed",
        True,
        (R, '"hatchling<2"', '"hatchling<3"'),
        base=VIRTUAL_ROOT,
    ),
    ws("workspace without other members unchanged", False, base=SOLO),
    ws(
        "workspace without other members: override respelled",
        False,
        (R, '"idna==3.4"', '"idna == 3.4"'),
        base=SOLO,
    ),
    ws("virtual root: group changed", True, (R, '"pytest>=7"', '"pytest>=7.4"'), base=VIRTUAL_ROOT),
    ws("virtual root: group respelled", False, (R, '"pytest>=7"', '"PyTest >= 7.0"'), base=VIRTUAL_ROOT),
    ws(
        "virtual root: member removed",
        True,
        (R, 'members = ["packages/*"]', 'members = ["packages/lib"]'),
        base=VIRTUAL_ROOT,
    ),
]


def _manifests(root: Path) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for path in root.rglob("pyproject.toml"):
        rel = path.parent.relative_to(root).as_posix()
        out["" if rel == "." else rel] = load_toml(path.read_text(), str(path))
    return out


def _write(root: Path, files: Mapping[str, str], index_url: str) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("{INDEX}", index_url))


@pytest.mark.e2e
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_differential_against_uv_lock_check(case: Case, tmp_path: Path, index: PackageIndex) -> None:
    home = tmp_path / "uv-home"
    home.mkdir()
    # Project settings such as `[tool.uv] resolution` count only when configuration is
    # read (UV_NO_CONFIG would hide them): read it, from the project and the test's home.
    env = {k: v for k, v in uv_env(home, index.url).items() if k != "UV_NO_CONFIG"}
    env["XDG_CONFIG_DIRS"] = str(home / "xdg-config-dirs")
    current = UvExe(_uv_path(CURRENT_UV), CURRENT_UV, env)
    locker = UvExe(_uv_path(case.locked_by), case.locked_by, env)
    root = tmp_path / "repo"
    _write(root, case.base, index.url)
    lock_dir = root / case.lock_dir
    locker.lock(lock_dir)
    for rel, old, new in case.edits:
        path = root / rel
        text = path.read_text()
        assert old in text, f"{case.id}: {old!r} not in {rel}"
        path.write_text(text.replace(old, new.replace("{INDEX}", index.url), 1))
    _write(root, case.files, index.url)

    proc = current.check_lock(lock_dir)
    uv_stale = proc.returncode != 0
    if uv_stale:
        assert "uv lock" in proc.stderr, proc.stderr  # stale, not an error of the setup
    verdict = freshness((lock_dir / "uv.lock").read_text(), case.lock_dir, _manifests(root))

    assert uv_stale == case.stale, f"uv {'rejects' if uv_stale else 'accepts'} the lock: {proc.stderr}"
    assert verdict.fresh == (not uv_stale), verdict.reasons
    assert verdict.fresh == (not verdict.reasons)


def test_differential_table_is_large_and_balanced() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    assert sum(c.stale for c in CASES) >= 10 and sum(not c.stale for c in CASES) >= 10
