"""``lockfix install`` / ``install --check`` / ``uninstall`` where git actually reads
attributes: linked worktrees, and the clone-wide ``$GIT_COMMON_DIR/info/attributes``."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockfix.commands.install import ATTRIBUTE_LINES
from tests.support.lockfix import lockfix
from tests.support.repos import GitRepo, add_dependency, locked_versions
from tests.test_driver_e2e import assert_fresh, git_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]


def test_gitattributes_example_holds_exactly_the_routed_lines() -> None:
    lines = (ROOT / "gitattributes.example").read_text().splitlines()
    assert tuple(ln for ln in lines if ln.strip() and not ln.startswith("#")) == ATTRIBUTE_LINES


def test_install_info_in_a_linked_worktree_routes_its_merges(make_single_project, poetry):
    """git reads ``$GIT_COMMON_DIR/info/attributes``, never the worktree's private git dir."""
    main = make_single_project({"requests": "^2.30"})
    git_env(main, poetry)
    main.git("worktree", "add", "-q", "-b", "feature", str(main.path.parent / "wt"))
    wt = GitRepo(main.path.parent / "wt", main.env)
    add_dependency(wt, ".", "click", "^8.1", poetry, commit="add click")
    add_dependency(main, ".", "attrs", "^23.1", poetry, commit="add attrs")
    wt.git("checkout", "-q", "-b", "work", "main")

    proc = lockfix("install", "--attributes-file", "info", cwd=wt.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    common_info = main.path / ".git" / "info" / "attributes"
    assert str(common_info) in proc.stdout
    assert "poetry.lock merge=lockfix" in common_info.read_text()
    assert not (main.path / ".git" / "worktrees" / "wt" / "info").exists()
    assert lockfix("install", "--check", cwd=wt.path, poetry=poetry).returncode == 0

    merged = wt.merge("feature")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert {"attrs", "click"} <= locked_versions(wt.path / "poetry.lock").keys()
    assert_fresh(wt, poetry)

    assert lockfix("uninstall", "--attributes-file", "info", cwd=wt.path,
                   poetry=poetry).returncode == 0
    assert not common_info.exists()  # install created it
    assert lockfix("install", "--check", cwd=wt.path, poetry=poetry).returncode == 1


def test_install_routes_clone_wide_and_check_and_uninstall_agree(make_single_project, poetry):
    """The default install writes the committed .gitattributes (for teammates) and
    info/attributes (for every merge in this clone, whatever the trees say); --check
    wants the latter; uninstall removes both blocks and nothing else."""
    repo = make_single_project({"requests": "^2.30"})
    info = repo.path / ".git" / "info" / "attributes"
    info.parent.mkdir(exist_ok=True)
    info.write_text("*.bin binary\n")
    config = (repo.path / ".git" / "config").read_bytes()

    assert lockfix("install", cwd=repo.path, poetry=poetry).returncode == 0
    assert "pyproject.toml merge=lockfix" in repo.read(".gitattributes")
    assert info.read_text().startswith("*.bin binary\n")
    assert "poetry.lock merge=lockfix" in info.read_text()
    assert lockfix("install", "--check", cwd=repo.path, poetry=poetry).returncode == 0
    repo.commit_all("route Poetry files to lockfix")

    info.write_text("*.bin binary\n")  # routed by the checked-out tree only
    status = lockfix("install", "--check", cwd=repo.path, poetry=poetry)
    assert status.returncode == 1
    assert "poetry.lock" in status.stdout and "checked-out" in status.stdout
    again = lockfix("install", cwd=repo.path, poetry=poetry)
    assert again.returncode == 0 and str(info) in again.stdout
    assert ".gitattributes" not in again.stdout  # already there: nothing added to it
    assert lockfix("install", "--check", cwd=repo.path, poetry=poetry).returncode == 0

    assert lockfix("uninstall", cwd=repo.path, poetry=poetry).returncode == 0
    assert info.read_text() == "*.bin binary\n"
    assert not repo.exists(".gitattributes")  # install created it
    assert (repo.path / ".git" / "config").read_bytes() == config
    assert lockfix("install", "--check", cwd=repo.path, poetry=poetry).returncode == 1
