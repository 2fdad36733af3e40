"""The private relock area of `lockfix run` (no Poetry needed): exclusive, self-cleaning,
faithful copies, atomic installs in order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lockfix import privatetree
from lockfix.errors import LockfixError


def test_run_area_cleans_what_a_killed_run_left_and_removes_itself(tmp_path: Path) -> None:
    stale = tmp_path / "lockfix" / "run" / "core-1234abcd" / "packages" / "core"
    stale.mkdir(parents=True)
    (stale / "poetry.lock").write_text("half made")
    with privatetree.run_area(tmp_path) as area:
        assert list(area.iterdir()) == []  # the killed run's tree is gone
        (area / "x").mkdir()
    assert not (tmp_path / "lockfix" / "run").exists()


def test_run_area_is_removed_on_interrupt_and_is_exclusive(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), privatetree.run_area(tmp_path) as area:
        (area / "tree").mkdir()
        with pytest.raises(LockfixError, match="another lockfix run"), \
                privatetree.run_area(tmp_path):
            pass
        assert (area / "tree").is_dir()  # the refused second run removed nothing
        raise KeyboardInterrupt
    assert not (tmp_path / "lockfix" / "run").exists()
    with privatetree.run_area(tmp_path):  # the lock went with the first run
        pass


def test_tree_paths_are_stable_and_distinct() -> None:
    area = Path("/r/.git/lockfix/run")
    assert privatetree.tree_for(area, "packages/core") == privatetree.tree_for(area, "packages/core")
    names = {privatetree.tree_for(area, d).name for d in ("", "a/core", "b/core", "core")}
    assert len(names) == 4 and any(n.startswith("root-") for n in names)


def test_owned_files_leave_nested_packages_out() -> None:
    listed = ["pyproject.toml", "poetry.lock", "app/__init__.py", "tests/fixtures/x/pyproject.toml",
              "packages/core/pyproject.toml", "packages/core/core/__init__.py"]
    dirs = ["", "tests/fixtures/x", "packages/core"]
    assert privatetree.owned_files(listed, "", dirs) == ["pyproject.toml", "poetry.lock", "app/__init__.py"]
    assert privatetree.owned_files(listed, "packages/core", dirs) == [
        "packages/core/pyproject.toml", "packages/core/core/__init__.py"]


def test_materialize_copies_overrides_and_keeps_symlinks(tmp_path: Path) -> None:
    repo, tree = tmp_path / "repo", tmp_path / "tree"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "pyproject.toml").write_text("conflicted")
    (repo / "pkg" / "poetry.lock").write_text("old lock")
    (repo / "pkg" / "README.md").write_text("readme")
    os.symlink("README.md", repo / "pkg" / "README.rst")
    files = ["pkg/pyproject.toml", "pkg/poetry.lock", "pkg/README.md", "pkg/README.rst", "pkg/gone"]
    privatetree.materialize(repo, tree, files, {"pkg/pyproject.toml": "merged", "pkg/poetry.lock": None})
    assert (tree / "pkg" / "pyproject.toml").read_text() == "merged"
    assert not (tree / "pkg" / "poetry.lock").exists()
    assert (tree / "pkg" / "README.md").read_text() == "readme"
    assert os.readlink(tree / "pkg" / "README.rst") == "README.md"
    (tree / "pkg" / "README.md").write_text("changed in the tree")
    assert (repo / "pkg" / "README.md").read_text() == "readme"  # a copy, not a link


def test_install_replaces_in_order_and_keeps_the_mode(tmp_path: Path) -> None:
    repo, tree = tmp_path / "repo", tmp_path / "tree"
    for base in (repo, tree):
        (base / "pkg").mkdir(parents=True)
    (repo / "pkg" / "poetry.lock").write_text("old lock")
    (repo / "pkg" / "poetry.lock").chmod(0o600)
    (tree / "pkg" / "poetry.lock").write_text("new lock")
    (tree / "pkg" / "pyproject.toml").write_text("merged")
    privatetree.install(tree, repo, ["pkg/poetry.lock", "pkg/pyproject.toml"])
    assert (repo / "pkg" / "poetry.lock").read_text() == "new lock"
    assert (repo / "pkg" / "pyproject.toml").read_text() == "merged"
    assert (repo / "pkg" / "poetry.lock").stat().st_mode & 0o777 == 0o600
    assert not (tree / "pkg" / "poetry.lock").exists()  # moved, not copied
    assert sorted(p.name for p in (repo / "pkg").iterdir()) == ["poetry.lock", "pyproject.toml"]
