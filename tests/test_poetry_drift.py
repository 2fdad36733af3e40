"""Path-dependency drift (lockfix.backends.poetry.drift): silent on what real Poetry just locked, however
rich the path dependency's pyproject, and precise about what changed since."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lockfix.backends.poetry.drift import (
    Change,
    _project_package,
    _quick_match,
    _semantic,
    entry_changes,
    find_drift,
    resolve_directory,
)
from lockfix.backends.poetry.lock import LockFile, directory_dependencies, parse_lock
from lockfix.toml import load_toml
from tests.support.repos import GitRepo, set_dependency_text

DATA = Path(__file__).parent / "data" / "locks"


def _fixture(lock_name: str) -> tuple[LockFile, dict[str, Any], str]:
    lock = parse_lock((DATA / lock_name).read_text(), lock_name)
    core_text = (DATA / "core" / "pyproject.toml").read_text()
    return lock, load_toml(core_text, "core/pyproject.toml"), core_text


def _changes(lock: LockFile, core_text: str) -> list[tuple[str, str, str | None, str | None]]:
    manifests = {"app": load_toml((DATA / "app" / "pyproject.toml").read_text(), "app"),
                 "core": load_toml(core_text, "core")}
    found = find_drift(manifests, {"app": lock}, root=DATA)
    assert all((d.package, d.dependency, d.name) == ("app", "core", "core") for d in found)
    return [(c.kind, c.name, c.locked, c.current) for d in found for c in d.changes]


@pytest.mark.parametrize("lock_name", ["poetry-1.8.5.lock", "poetry-2.5.1.lock"])
def test_fixture_locks_have_no_drift(lock_name: str) -> None:
    lock, _, core_text = _fixture(lock_name)
    assert _changes(lock, core_text) == []


EDITS: list[tuple[Callable[[str], str], list[tuple[str, str, str | None, str | None]]]] = [
    (lambda t: set_dependency_text(t, "click", "^8.1"), [("added", "click", None, "^8.1")]),
    (lambda t: set_dependency_text(t, "idna", None), [("removed", "idna", "*", None)]),
    (lambda t: set_dependency_text(t, "idna", ">=3.4"), [("changed", "idna", "*", ">=3.4")]),
    (lambda t: t.replace('version = "0.1.0"', 'version = "1.0.0"'),
     [("version", "", "0.1.0", "1.0.0")]),
    (lambda t: t.replace('python = ">=3.8"', 'python = ">=3.9"'),
     [("python", "", ">=3.8", ">=3.9")]),
    (lambda t: t.replace('idna = "*"', 'idna = { version = "*", markers = "os_name == \'nt\'" }'),
     [("changed", "idna", "*", '*; os_name == "nt"')]),
    (lambda t: t.replace('idna = "*"', 'idna = { version = "*", extras = ["all"] }'),
     [("changed", "idna", "*", "[all] *")]),
    # not drift: the same range spelled differently, a dev group, a description
    (lambda t: t.replace('idna = "*"', 'idna = { version = "*" }'), []),
    (lambda t: t.replace('idna = "*"', "idna = '*'  # comment"), []),
    (lambda t: t + '\n[tool.poetry.group.dev.dependencies]\npytest = "^7.4"\n', []),
    (lambda t: t.replace("Shared code", "Code"), []),
]


@pytest.mark.parametrize("lock_name", ["poetry-1.8.5.lock", "poetry-2.5.1.lock"])
@pytest.mark.parametrize("edit,expected", EDITS)
def test_each_change_is_named(lock_name: str, edit: Callable[[str], str],
                              expected: list[Any]) -> None:
    lock, _, core_text = _fixture(lock_name)
    edited = edit(core_text)
    assert edited != core_text
    assert _changes(lock, edited) == expected


def test_drift_describes_both_packages() -> None:
    lock, _, core_text = _fixture("poetry-2.5.1.lock")
    manifests = {"app": {}, "core": load_toml(set_dependency_text(core_text, "idna", None), "c")}
    (drift,) = find_drift(manifests, {"app": lock}, root=DATA)
    assert drift.describe() == "path dependency core (core) changed: idna * removed"
    assert str(Change("version", "", "0.1.0", "0.2.0")) == "version 0.1.0 -> 0.2.0"


def test_resolve_directory() -> None:
    def url(u: str) -> dict[str, Any]:
        return {"source": {"type": "directory", "url": u}}

    assert resolve_directory("packages/api", url("../core")) == "packages/core"
    assert resolve_directory("", url("libs/core")) == "libs/core"
    assert resolve_directory("app", url("..")) == ""
    assert resolve_directory("app", url("../..")) is None  # outside the repository
    assert resolve_directory("app", url("/abs/core")) is None
    assert resolve_directory("app", {"source": {"type": "directory"}}) is None


# the quick textual comparison may only say "same" when the semantic one agrees

SPECS = ["^2.30", ">=2.30,<3.0", "*", "2.31.0", ">=2.30", "~2.30",
         {"version": "^2.30"}, {"version": "^2.30", "optional": True},
         {"version": "^2.30", "python": "<3.11"}, {"version": "^2.30", "python": "^3.8"},
         {"version": "^2.30", "markers": "sys_platform == 'linux'"},
         {"version": "^2.30", "extras": ["socks"]}, {"version": "^2.30", "platform": "linux"},
         {"version": "^2.30", "python": ">=3.8,<3.11", "markers": "os_name == 'nt'"}]
LOCKED = ["^2.30", ">=2.30,<3.0", "*", "2.31.0", ">=2.30", "~2.30",
          {"version": "^2.30", "optional": True},
          {"version": "^2.30", "markers": 'python_version < "3.11"'},
          {"version": "^2.30", "markers": 'python_version >= "3.8" and python_version < "4.0"'},
          {"version": "^2.30", "markers": 'sys_platform == "linux"'},
          {"version": "^2.30", "extras": ["socks"]},
          {"version": "^2.30",
           "markers": 'os_name == "nt" and python_version >= "3.8" and python_version < "3.11"'}]
REQUIREMENTS = ["requests (>=2.30,<3.0)", "requests>=2.30,<3.0", "requests", "requests==2.31.0",
                "requests~=2.30", "requests[socks]>=2.30,<3.0",
                "requests>=2.30,<3.0; python_version < '3.11'"]


def _entry(locked: Any) -> dict[str, Any]:
    return {"name": "core", "version": "0.1.0", "python-versions": ">=3.8",
            "dependencies": {"requests": locked},
            "source": {"type": "directory", "url": "../core"}}


LOCK = LockFile(None, "2.1", None, ">=3.9", (), {})


@settings(max_examples=200, deadline=None)
@given(spec=st.sampled_from(SPECS), locked=st.sampled_from(LOCKED))
def test_quick_match_is_sound_for_classic(spec: Any, locked: Any) -> None:
    manifest = {"tool": {"poetry": {"name": "core", "version": "0.1.0",
                                    "dependencies": {"python": ">=3.8", "requests": spec}}}}
    if _quick_match(_entry(locked), manifest):
        package = _project_package(manifest, DATA / "core")
        assert package is not None
        assert _semantic(_entry(locked), package, DATA / "core", LOCK) == []


@settings(max_examples=100, deadline=None)
@given(requirement=st.sampled_from(REQUIREMENTS), locked=st.sampled_from(LOCKED))
def test_quick_match_is_sound_for_pep621(requirement: str, locked: Any) -> None:
    manifest = {"project": {"name": "core", "version": "0.1.0", "requires-python": ">=3.8",
                            "dependencies": [requirement]}}
    if _quick_match(_entry(locked), manifest):
        package = _project_package(manifest, DATA / "core")
        assert package is not None
        assert _semantic(_entry(locked), package, DATA / "core", LOCK) == []


def test_quick_match_covers_the_common_layouts() -> None:
    classic = {"tool": {"poetry": {"name": "core", "version": "0.1.0", "dependencies": {
        "python": ">=3.8", "requests": "^2.30"}}}}
    pep621 = {"project": {"name": "core", "version": "0.1.0", "requires-python": ">=3.8",
                          "dependencies": ["requests (>=2.30,<3.0)"]}}
    assert _quick_match(_entry("^2.30"), classic)
    assert _quick_match(_entry(">=2.30,<3.0"), pep621)
    assert entry_changes(_entry("^2.31"), classic, DATA / "core", LOCK) == [
        Change("changed", "requests", "^2.31", "^2.30")]


# ---------------------------------------------------------------------------------------
# end to end: a rich monorepo locked by real Poetry has no drift

SOURCE = '''
[[tool.poetry.source]]
name = "local"
url = "{url}"
priority = "primary"

[build-system]
requires = ["poetry-core>=1.0.0"]
build-backend = "poetry.core.masonry.api"
'''
LIB = '''[tool.poetry]
name = "lib"
version = "0.3.0"
description = "lib"
authors = ["A <a@example.invalid>"]

[tool.poetry.dependencies]
python = ">=3.9"
mdurl = "*"
''' + SOURCE
CORE = '''[tool.poetry]
name = "Core_Lib"
version = "1.2.3"
description = "core"
authors = ["A <a@example.invalid>"]

[tool.poetry.dependencies]
python = ">=3.9"
requests = "^2.30"
click = {{ version = "^8.1", optional = true }}
fancylib = {{ version = ">=1.0", extras = ["cli"] }}
pytest = {{ version = "^7.4", python = "<3.12" }}
six = {{ version = "*", markers = "sys_platform == 'linux'" }}
attrs = [{{ version = "23.1.0", python = "<3.10" }}, {{ version = ">=23", python = ">=3.10" }}]
idna = "~3.4"
urllib3 = ">=1.26,<3 || >=2.0.7"
packaging = {{ version = "*", allow-prereleases = true, source = "local" }}
redis = {{ version = "^5.0", python = "<3.9" }}
lib = {{ path = "../lib", develop = true }}

[tool.poetry.extras]
cli = ["click"]

[tool.poetry.group.dev.dependencies]
structlog = "*"
''' + SOURCE
APP = '''[tool.poetry]
name = "app"
version = "0.1.0"
description = "app"
authors = ["A <a@example.invalid>"]
package-mode = false

[tool.poetry.dependencies]
python = ">=3.9,<3.13"
core-lib = {{ path = "../core", develop = true, extras = ["cli"] }}
''' + SOURCE
CORE621 = '''[project]
name = "core621"
version = "2.0.0"
description = "core621"
requires-python = ">=3.9"
dependencies = [
  "requests (>=2.30,<3.0)",
  "fancylib[cli]>=1.0",
  "pytest>=7.4,<8; python_version < '3.12'",
  "six; sys_platform == 'linux'",
  "idna~=3.4",
  "lib",
]

[project.optional-dependencies]
cli = ["click>=8.1"]

[dependency-groups]
dev = ["structlog"]

[tool.poetry.dependencies]
lib = {{ path = "../lib", develop = true }}
''' + SOURCE
APP621 = '''[project]
name = "app621"
version = "0.1.0"
requires-python = ">=3.9,<3.13"
dependencies = ["core621", "core-lib"]

[tool.poetry]
package-mode = false

[tool.poetry.dependencies]
core621 = {{ path = "../core621", develop = false }}
core-lib = {{ path = "../core", develop = true }}
''' + SOURCE


@pytest.mark.e2e
def test_rich_monorepo_locked_by_poetry_has_no_drift(poetry, index, tmp_path) -> None:
    index.add("zope.interface", "6.0")
    index.add("fancylib", "1.0", ["zope.interface"], extras={"cli": ["click>=8"]})
    projects = {"lib": LIB, "core": CORE, "app": APP}
    if poetry.major >= 2:
        projects |= {"core621": CORE621, "app621": APP621}
    repo = GitRepo.init(tmp_path / "rich", poetry.env)
    for d, template in projects.items():
        repo.write(f"{d}/pyproject.toml", template.format(url=index.url))
        module = {"core": "core_lib"}.get(d, d)
        repo.write(f"{d}/{module}/__init__.py", "")
    for d in projects:  # dependencies first: the dict is in that order
        poetry.lock(repo.path / d)
    repo.commit_all("locked")

    manifests = {d: load_toml(repo.read(f"{d}/pyproject.toml"), d) for d in projects}
    locks = {d: parse_lock(repo.read(f"{d}/poetry.lock"), d) for d in projects}
    entries = sum(len(directory_dependencies(lock)) for lock in locks.values())
    assert entries == (7 if poetry.major >= 2 else 3)
    assert find_drift(manifests, locks, root=repo.path) == []

    # and in that rich setting, changes are still seen
    edited = dict(manifests)
    edited["core"] = load_toml(
        repo.read("core/pyproject.toml").replace('python = "<3.12"', 'python = "<3.11"'), "c")
    found = find_drift(edited, locks, root=repo.path)
    assert {(d.package, d.dependency) for d in found} == {
        (d, "core") for d in ("app", "app621") if d in projects}
    assert [c.name for c in found[0].changes] == ["pytest"]
