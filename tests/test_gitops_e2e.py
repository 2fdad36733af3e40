"""Every git operation a user will try, end to end: revert, ``am -3``, locks committed with
zdiff3 markers, and routing that must not depend on which commits carry .gitattributes.

Real git, real Poetry (both lines), the local index; each test failed before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.lockfix import lockfix
from tests.support.repos import GitRepo, add_dependency, diverge, locked_versions
from tests.test_driver_e2e import assert_fresh, git_env, install

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(make_single_project, poetry) -> GitRepo:
    """A project with lockfix installed and .gitattributes committed on main."""
    repo = make_single_project({"requests": "^2.30"})
    git_env(repo, poetry)
    install(repo, poetry)
    return repo


def clone(upstream: GitRepo, path: Path, poetry) -> GitRepo:
    """A fresh clone (no reflog of the upstream's commits) with lockfix installed."""
    upstream.git("clone", "-q", str(upstream.path), str(path))
    repo = GitRepo(path, upstream.env)
    proc = lockfix("install", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return repo


# -- 1. git revert ---------------------------------------------------------------------------


def test_driver_revert_of_an_older_commit_in_a_fresh_clone(project, poetry, tmp_path):
    """git merges a revert with base = the reverted commit and theirs = its parent; in a
    fresh clone neither is a ref tip or in the reflog, so only history can name them."""
    add_dependency(project, ".", "attrs", "^23.1", poetry, commit="add attrs")
    add_dependency(project, ".", "click", "^8.1", poetry, commit="add click")
    repo = clone(project, tmp_path / "clone", poetry)
    proc = repo.git("revert", "--no-edit", "HEAD~1", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "regenerated (revert" in proc.stderr
    assert repo.is_clean()
    versions = locked_versions(repo.path / "poetry.lock")
    assert "attrs" not in versions and "click" in versions
    assert "attrs" not in repo.read("pyproject.toml")
    assert_fresh(repo, poetry)


# -- 2. git am -3 ----------------------------------------------------------------------------


def _patch_from_another_clone(project: GitRepo, poetry, tmp_path: Path) -> Path:
    """A format-patch of "add click" made in another clone: no commit here holds its
    blobs; ``main`` meanwhile adds attrs, so the patch only applies three-way."""
    other = GitRepo(tmp_path / "other", project.env)
    project.git("clone", "-q", str(project.path), str(other.path))
    add_dependency(other, ".", "click", "^8.1", poetry, commit="add click")
    out = tmp_path / "patches"
    other.git("format-patch", "-q", "-1", "-o", str(out))
    add_dependency(project, ".", "attrs", "^23.1", poetry, commit="add attrs")
    [patch] = sorted(out.iterdir())
    return patch


def test_driver_am_three_way_of_a_patch_from_another_clone(project, poetry, tmp_path):
    repo = project
    patch = _patch_from_another_clone(repo, poetry, tmp_path)
    proc = repo.git("am", "-3", str(patch), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "regenerated (am" in proc.stderr
    assert repo.is_clean() and not (repo.path / ".git" / "rebase-apply").exists()
    assert repo.git("log", "-1", "--format=%s").stdout.strip() == "add click"
    assert {"attrs", "click"} <= locked_versions(repo.path / "poetry.lock").keys()
    text = repo.read("pyproject.toml")
    assert 'attrs = "^23.1"' in text and 'click = "^8.1"' in text
    assert_fresh(repo, poetry)


def test_run_after_a_stopped_am_names_am_continue(make_single_project, poetry, tmp_path):
    repo = make_single_project({"requests": "^2.30"})
    patch = _patch_from_another_clone(repo, poetry, tmp_path)
    assert repo.git("am", "-3", str(patch), check=False).returncode != 0
    assert repo.unmerged() == ["poetry.lock", "pyproject.toml"]
    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "next: git am --continue" in proc.stdout
    repo.git("am", "--continue")
    assert repo.is_clean()
    assert {"attrs", "click"} <= locked_versions(repo.path / "poetry.lock").keys()
    assert_fresh(repo, poetry)


# -- 3. a lock committed with zdiff3 markers -------------------------------------------------


def test_run_repairs_lock_committed_with_zdiff3_markers(make_single_project, poetry):
    """zdiff3 moves lines both sides share out of each conflict region, so the lines
    outside the regions plus the base sections are no base that ever existed (here: not
    even TOML). lockfix merges such a file two-way instead of failing."""
    repo = make_single_project({"requests": "^2.30"})
    # two packages locked at the same place, with entries that share their first and last
    # lines: the shape zdiff3 trims
    diverge(repo, poetry, ("attrs", "^23.1"), ("annotated-types", "^0.6"))
    assert repo.git("-c", "merge.conflictStyle=zdiff3", "merge", "--no-edit", "feature",
                    check=False).returncode != 0
    repo.commit_all("merge, zdiff3 conflicts committed as they were")
    assert repo.has_conflict_markers("poetry.lock") and repo.unmerged() == []
    assert "|||||||" in repo.read("poetry.lock")

    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "poetry.lock conflicted (markers" in proc.stdout
    assert not repo.has_conflict_markers("poetry.lock")
    assert not repo.has_conflict_markers("pyproject.toml")
    assert {"attrs", "annotated-types"} <= locked_versions(repo.path / "poetry.lock").keys()
    assert poetry.check_lock(repo.path).returncode == 0


# -- 5. routing that does not depend on the trees being merged -------------------------------


def test_driver_merge_main_into_a_branch_older_than_gitattributes(make_single_project, poetry):
    """The old branch's tree has no .gitattributes, and git reads merge attributes from
    the checked-out tree: only $GIT_COMMON_DIR/info/attributes routes this merge."""
    repo = make_single_project({"requests": "^2.30"})
    git_env(repo, poetry)
    repo.branch("old")
    install(repo, poetry)  # main: the .gitattributes commit
    add_dependency(repo, ".", "attrs", "^23.1", poetry, commit="add attrs")
    repo.checkout("old")
    add_dependency(repo, ".", "click", "^8.1", poetry, commit="add click")
    assert not repo.exists(".gitattributes")
    proc = repo.merge("main")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "lockfix: poetry.lock: regenerated" in proc.stderr
    assert {"attrs", "click"} <= locked_versions(repo.path / "poetry.lock").keys()
    assert_fresh(repo, poetry)


def test_driver_rebase_of_a_branch_carrying_the_install_commit(make_single_project, poetry):
    """``feature`` adopts lockfix after its own dependency change; rebasing it onto main
    replays that change first, onto a tree without .gitattributes."""
    repo = make_single_project({"requests": "^2.30"})
    git_env(repo, poetry)
    repo.branch("feature")
    add_dependency(repo, ".", "attrs", "^23.1", poetry, commit="main: attrs")
    repo.checkout("feature")
    add_dependency(repo, ".", "click", "^8.1", poetry, commit="feature: click")
    install(repo, poetry)
    proc = repo.git("rebase", "main", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert repo.current_branch() == "feature"
    repo.git("checkout", "-q", "HEAD~1")  # the replayed dependency change itself
    assert {"attrs", "click"} <= locked_versions(repo.path / "poetry.lock").keys()
    assert_fresh(repo, poetry)
    repo.git("checkout", "-q", "feature")
