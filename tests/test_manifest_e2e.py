"""The pyproject.toml merge rules end to end, in both ways lockfix runs: as the merge
driver (``lockfix install``, then a plain ``git merge``) and as ``lockfix run`` after a
plain merge stopped on conflicts. Real git, real Poetry (both lines), the local index.

- issue 14: both sides change the same constraint / add the same package differently:
  the newer constraint wins (``manifest-policy = "newer"``, the default);
- issue 15 item 1: the same package added by both sides to different tables is kept once;
- issue 15 item 5: a table one side deleted is not brought back by the other's edit.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from lockfix.localindex import PackageIndex
from tests.support.lockfix import lockfix
from tests.support.poetry import PoetryExe
from tests.support.repos import (
    GitRepo,
    locked_versions,
    pyproject_text,
    relock,
    set_dependency_text,
)

pytestmark = pytest.mark.e2e

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

MODES = ["driver", "run"]


def manifest(repo: GitRepo) -> dict[str, Any]:
    return tomllib.loads(repo.read("pyproject.toml"))


def prepare(repo: GitRepo, poetry: PoetryExe, mode: str) -> None:
    """Driver mode: route the Poetry files to lockfix (committed on main before the
    branches diverge, as a team would) and let git's driver find this Poetry."""
    if mode == "driver":
        repo.env = {**repo.env, "LOCKFIX_POETRY": str(poetry.path)}
        proc = lockfix("install", cwd=repo.path, poetry=poetry)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        repo.commit_all("route Poetry files to lockfix")


def commit_edit(repo: GitRepo, poetry: PoetryExe, text: str, message: str) -> None:
    repo.write("pyproject.toml", text)
    relock(repo, ".", poetry)
    repo.commit_all(message)


def merge_feature(repo: GitRepo, poetry: PoetryExe, mode: str) -> str:
    """Merge ``feature`` into ``main`` the given way; returns what lockfix printed."""
    proc = repo.merge("feature")
    if mode == "driver":
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert repo.is_clean(), repo.status()
        return proc.stderr
    assert proc.returncode != 0, "a plain merge was expected to stop on conflicts"
    assert "pyproject.toml" in repo.unmerged()
    run = lockfix("run", cwd=repo.path, poetry=poetry)
    assert run.returncode == 0, run.stdout + run.stderr
    repo.git("commit", "--no-edit")
    assert repo.is_clean(), repo.status()
    return run.stdout + run.stderr


def assert_fresh(repo: GitRepo, poetry: PoetryExe) -> None:
    assert not repo.has_conflict_markers("pyproject.toml")
    assert not repo.has_conflict_markers("poetry.lock")
    proc: subprocess.CompletedProcess[str] = poetry.check_lock(repo.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------------------------- issue 14


@pytest.mark.parametrize("mode", MODES)
def test_newer_constraint_wins_for_a_bump_and_for_an_addition(
        make_single_project, poetry: PoetryExe, index: PackageIndex, mode: str) -> None:
    """main bumps ruff by a minor (^0.12.0) and adds isort ^5.13; feature bumps ruff by a
    patch (^0.11.4) and adds isort ~5.12. The incoming side would win by side; the newer
    constraints win instead, and the lock holds the versions they allow."""
    for version in ("0.11.0", "0.11.4", "0.12.0"):
        index.add("ruff", version)
    for version in ("5.12.0", "5.13.2"):
        index.add("isort", version)
    repo = make_single_project({"requests": "^2.30", "ruff": "^0.11.0"})
    prepare(repo, poetry, mode)
    base = repo.read("pyproject.toml")
    repo.branch("feature")
    ours = set_dependency_text(set_dependency_text(base, "ruff", "^0.12.0"), "isort", "^5.13")
    commit_edit(repo, poetry, ours, "ruff ^0.12, isort ^5.13")
    repo.checkout("feature")
    theirs = set_dependency_text(set_dependency_text(base, "ruff", "^0.11.4"), "isort", "~5.12")
    commit_edit(repo, poetry, theirs, "ruff ^0.11.4, isort ~5.12")
    repo.checkout("main")

    said = merge_feature(repo, poetry, mode)

    deps = manifest(repo)["tool"]["poetry"]["dependencies"]
    assert (deps["ruff"], deps["isort"]) == ("^0.12.0", "^5.13")
    locked = locked_versions(repo.path / "poetry.lock")
    assert (locked["ruff"], locked["isort"]) == ("0.12.0", "5.13.2")
    assert "pyproject clash at tool.poetry.dependencies.ruff: took ours (newer: ^0.12.0 > ^0.11.4)" \
        in said, said
    assert "pyproject clash at tool.poetry.dependencies.isort: took ours (newer: ^5.13 > ~5.12)" \
        in said, said
    assert_fresh(repo, poetry)


# -------------------------------------------------------------- issue 15 item 1


@pytest.mark.parametrize(("mode", "text_conflicts"),
                         [("driver", True), ("run", True), ("driver", False)])
def test_package_added_to_two_tables_is_kept_in_one(
        make_single_project, poetry: PoetryExe, index: PackageIndex, mode: str,
        text_conflicts: bool) -> None:
    """main adds nbqa ^0.7.0 to the main dependencies; feature adds nbqa {version =
    "^0.5", python = ">=3.6.1"} to the dev group (and, where ``text_conflicts``, attrs to
    the main dependencies, so that git's line merge stops; otherwise git would merge the
    text cleanly, which only the driver sees). Both kept, Poetry refuses ("Incompatible
    constraints"); the constraints are not comparable (a python restriction on one), so
    theirs' addition is kept and ours' dropped."""
    index.add("nbqa", "0.5.9")
    index.add("nbqa", "0.7.1")
    repo = make_single_project({"requests": "^2.30"}, dev_deps={"click": "^8.1"})
    prepare(repo, poetry, mode)
    base = repo.read("pyproject.toml")
    repo.branch("feature")
    commit_edit(repo, poetry, set_dependency_text(base, "nbqa", "^0.7.0"), "nbqa")
    repo.checkout("feature")
    theirs = set_dependency_text(base, "attrs", "^23.1") if text_conflicts else base
    theirs = set_dependency_text(theirs, "nbqa", {"version": "^0.5", "python": ">=3.6.1"},
                                 group="dev")
    commit_edit(repo, poetry, theirs, "attrs, dev nbqa")
    repo.checkout("main")

    said = merge_feature(repo, poetry, mode)

    poetry_table = manifest(repo)["tool"]["poetry"]
    assert "nbqa" not in poetry_table["dependencies"]
    assert ("attrs" in poetry_table["dependencies"]) == text_conflicts
    assert poetry_table["group"]["dev"]["dependencies"]["nbqa"] == {
        "version": "^0.5", "python": ">=3.6.1"}
    assert locked_versions(repo.path / "poetry.lock")["nbqa"] == "0.5.9"
    assert re.search(r"pyproject clash at tool\.poetry\.dependencies\.nbqa \(ours\) / "
                     r"tool\.poetry\.group\.dev\.dependencies\.nbqa \(theirs\): took theirs "
                     r"\(both added it, to different tables;", said), said
    assert_fresh(repo, poetry)


# -------------------------------------------------------------- issue 15 item 5


@pytest.mark.parametrize("mode", MODES)
def test_deleted_group_is_not_brought_back_by_a_bump_inside_it(
        make_single_project, poetry: PoetryExe, index: PackageIndex, mode: str) -> None:
    """main deletes its dev group; feature bumps the one dependency in it. The group
    stays deleted (before: theirs' whole group came back), and the bump is reported."""
    repo = make_single_project({"requests": "^2.30"}, dev_deps={"click": "^8.1.6"})
    prepare(repo, poetry, mode)
    base = repo.read("pyproject.toml")
    repo.branch("feature")
    ours = base.replace('[tool.poetry.group.dev.dependencies]\nclick = "^8.1.6"\n\n', "")
    assert ours != base
    commit_edit(repo, poetry, ours, "drop the dev group")
    repo.checkout("feature")
    commit_edit(repo, poetry, set_dependency_text(base, "click", "^8.1.7", group="dev"),
                "click ^8.1.7")
    repo.checkout("main")

    said = merge_feature(repo, poetry, mode)

    assert repo.read("pyproject.toml") == ours
    assert "click" not in locked_versions(repo.path / "poetry.lock")
    assert ("pyproject clash at tool.poetry.group.dev.dependencies.click: took ours "
            "(ours deleted tool.poetry.group; the edit inside it is dropped)") in said, said
    assert_fresh(repo, poetry)


@pytest.mark.parametrize("mode", MODES)
def test_migration_to_pep621_survives_an_edit_of_the_legacy_table(
        make_single_project, poetry: PoetryExe, index: PackageIndex, mode: str) -> None:
    """main migrates to PEP 621 ([project], [tool.poetry] keeps only packages and the
    source); feature bumps requests in the legacy [tool.poetry.dependencies]. The legacy
    table does not come back beside [project]."""
    if poetry.major < 2:
        pytest.skip(f"{poetry.label} cannot lock PEP 621 [project] dependencies")
    deps = {"requests": "^2.30", "click": "^8.1"}
    repo = make_single_project(deps)
    prepare(repo, poetry, mode)
    base = repo.read("pyproject.toml")
    repo.branch("feature")
    migrated = pyproject_text("app", deps, index_url=index.url, style="pep621")
    commit_edit(repo, poetry, migrated, "migrate to PEP 621")
    repo.checkout("feature")
    commit_edit(repo, poetry, set_dependency_text(base, "requests", "^2.31"), "requests ^2.31")
    repo.checkout("main")

    said = merge_feature(repo, poetry, mode)

    assert repo.read("pyproject.toml") == migrated
    assert set(manifest(repo)["tool"]["poetry"]) == {"packages", "source"}
    assert ("pyproject clash at tool.poetry.dependencies.requests: took ours "
            "(ours deleted tool.poetry.dependencies; the edit inside it is dropped)") in said, said
    assert_fresh(repo, poetry)
