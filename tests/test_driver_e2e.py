"""The merge driver end to end: `lockfix install`, then plain git commands just finish."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.lockfix import lockfix
from tests.support.repos import (
    API_GATEWAY,
    BACKGROUND_WORKER,
    CORE,
    GitRepo,
    add_dependency,
    diverge,
    diverge_packages,
    diverge_with_broken_theirs,
    locked_versions,
    update_dependency,
)

pytestmark = pytest.mark.e2e


def install(repo: GitRepo, poetry) -> None:
    proc = lockfix("install", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    repo.commit_all("route Poetry files to lockfix")


def git_env(repo: GitRepo, poetry) -> None:
    """The driver runs inside git: it finds Poetry through the environment git passes on."""
    repo.env = {**repo.env, "LOCKFIX_POETRY": str(poetry.path)}


def assert_fresh(repo: GitRepo, poetry, *dirs: str) -> None:
    for d in dirs or (".",):
        assert not repo.has_conflict_markers(f"{d}/poetry.lock".lstrip("./"))
        proc = poetry.check_lock(repo.path / d)
        assert proc.returncode == 0, f"{d}: {proc.stdout}{proc.stderr}"


@pytest.fixture
def project(make_single_project, poetry, index) -> GitRepo:
    repo = make_single_project({"requests": "^2.30"})
    git_env(repo, poetry)
    install(repo, poetry)
    return repo


def test_merge_finishes_without_conflict(project, poetry, index):
    repo = project
    before = locked_versions(repo.path / "poetry.lock")
    diverge(repo, poetry)
    index.add("requests", "2.32.0", ["urllib3>=1.21,<3", "idna>=2.5,<4", "certifi>=2017.4.17"])
    proc = repo.merge("feature")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert repo.is_clean()
    text = repo.read("pyproject.toml")
    assert 'attrs = "^23.1"' in text and 'click = "^8.1"' in text
    assert_fresh(repo, poetry)
    after = locked_versions(repo.path / "poetry.lock")
    assert {"attrs", "click"} <= after.keys()
    assert after["requests"] == before["requests"] == "2.31.0"
    # nothing written outside the repository, nothing left inside it
    assert not (repo.path / ".git" / "lockfix" / "tree").exists()


def test_pull_from_second_clone(project, poetry, tmp_path):
    upstream = project
    clone_path = tmp_path / "clone"
    upstream.git("clone", "-q", str(upstream.path), str(clone_path))
    clone = GitRepo(clone_path, upstream.env)
    assert lockfix("install", cwd=clone.path, poetry=poetry).returncode == 0
    add_dependency(upstream, ".", "click", "^8.1", poetry, commit="upstream: click")
    add_dependency(clone, ".", "attrs", "^23.1", poetry, commit="clone: attrs")
    proc = clone.git("pull", "--no-rebase", "--no-edit", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {"attrs", "click"} <= locked_versions(clone.path / "poetry.lock").keys()
    assert_fresh(clone, poetry)


@pytest.mark.parametrize("backend", ["merge", "apply"])
def test_rebase_of_several_commits(project, poetry, backend):
    repo = project
    repo.branch("feature")
    add_dependency(repo, ".", "attrs", "^23.1", poetry, commit="main: attrs")
    repo.checkout("feature")
    add_dependency(repo, ".", "click", "^8.1", poetry, commit="feature: click")
    add_dependency(repo, ".", "six", "^1.16", poetry, commit="feature: six")
    args = ["rebase", "main"] if backend == "merge" else ["rebase", "--apply", "main"]
    proc = repo.git(*args, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tip = repo.head("feature")
    for rev, expected in ((f"{tip}~1", {"attrs", "click"}), (tip, {"attrs", "click", "six"})):
        repo.git("checkout", "-q", rev)
        assert expected <= locked_versions(repo.path / "poetry.lock").keys(), rev
        assert_fresh(repo, poetry)
    repo.git("checkout", "-q", "feature")


def test_cherry_pick_single_and_range(project, poetry):
    repo = project
    repo.branch("feature")
    add_dependency(repo, ".", "attrs", "^23.1", poetry, commit="main: attrs")
    repo.checkout("feature")
    add_dependency(repo, ".", "click", "^8.1", poetry, commit="feature: click")
    add_dependency(repo, ".", "six", "^1.16", poetry, commit="feature: six")
    add_dependency(repo, ".", "structlog", "^23.2", poetry, commit="feature: structlog")
    repo.checkout("main")
    proc = repo.git("cherry-pick", "feature~2", check=False)  # click
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_fresh(repo, poetry)
    proc = repo.git("cherry-pick", "feature~2..feature", check=False)  # six, structlog
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {"attrs", "click", "six", "structlog"} <= locked_versions(repo.path / "poetry.lock").keys()
    assert_fresh(repo, poetry)
    repo.git("checkout", "-q", "HEAD~1")  # every commit the range produced is fresh
    assert {"attrs", "click", "six"} <= locked_versions(repo.path / "poetry.lock").keys()
    assert_fresh(repo, poetry)
    repo.git("checkout", "-q", "main")


def test_stash_pop_of_a_dependency_change(project, poetry):
    repo = project
    add_dependency(repo, ".", "click", "^8.1", poetry)  # uncommitted work
    repo.git("stash")
    add_dependency(repo, ".", "attrs", "^23.1", poetry, commit="attrs meanwhile")
    proc = repo.git("stash", "pop", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {"attrs", "click"} <= locked_versions(repo.path / "poetry.lock").keys()
    assert_fresh(repo, poetry)


def test_lock_only_bump_and_addition_survive(project, poetry, index):
    repo = project
    index.add("certifi", "2023.11.17")
    repo.branch("feature")
    update_dependency(repo, ".", "certifi", poetry, commit="bump certifi")
    repo.checkout("feature")
    add_dependency(repo, ".", "click", "^8.1", poetry, commit="add click")
    repo.checkout("main")
    assert repo.merge("feature").returncode == 0
    versions = locked_versions(repo.path / "poetry.lock")
    assert versions["certifi"] == "2023.11.17" and "click" in versions
    assert_fresh(repo, poetry)


def test_monorepo_merge_relocks_dependents(make_monorepo, poetry):
    repo = make_monorepo()
    git_env(repo, poetry)
    install(repo, poetry)
    diverge_packages(repo, poetry, [(CORE, "attrs", "^23.1")],
                     [(CORE, "six", "^1.16"), (API_GATEWAY, "structlog", "^23.2")])
    proc = repo.merge("feature")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_fresh(repo, poetry, CORE, API_GATEWAY, BACKGROUND_WORKER)
    gateway = repo.read(f"{API_GATEWAY}/poetry.lock")
    core_entry = gateway.split('name = "core"', 1)[1].split("[[package]]", 1)[0]
    assert "attrs" in core_entry and "six" in core_entry
    assert {"attrs", "six", "structlog"} <= locked_versions(repo.path / API_GATEWAY / "poetry.lock").keys()


# -- failure: exactly what plain git leaves, plus one line ---------------------------------


def test_poetry_missing_leaves_plain_git_conflict(make_single_project, poetry, tmp_path):
    plain = make_single_project({"requests": "^2.30"})
    diverge(plain, poetry)
    assert plain.merge("feature").returncode != 0
    expected = {p: plain.read(p) for p in ("poetry.lock",)}

    repo = make_single_project({"requests": "^2.30"})
    repo.env = {**repo.env, "LOCKFIX_POETRY": str(tmp_path / "missing-poetry")}
    install(repo, poetry)
    diverge(repo, poetry)
    proc = repo.merge("feature")
    assert proc.returncode != 0
    assert "lockfix: poetry.lock: Poetry not found" in proc.stderr
    assert repo.unmerged() == ["poetry.lock"]  # the pyproject.toml merge needs no Poetry
    assert repo.has_conflict_markers("poetry.lock")
    # byte for byte what plain git left in the same merge
    assert repo.read("poetry.lock") == expected["poetry.lock"]
    # and lockfix run picks up from there once Poetry is back
    fixed = lockfix("run", cwd=repo.path, poetry=poetry)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def test_unsolvable_merge_conflicts(project, poetry, index):
    repo = project
    index.add("clickplugin", "1.0.0", ["click==8.1.7"])
    diverge(repo, poetry, ("click", "8.1.6"), ("clickplugin", "^1.0"))
    proc = repo.merge("feature")
    assert proc.returncode != 0
    assert "poetry.lock: Poetry" in proc.stderr and "could not lock" in proc.stderr
    assert repo.unmerged() == ["poetry.lock"]
    assert repo.has_conflict_markers("poetry.lock")


def test_install_uninstall_round_trip(make_single_project, poetry):
    repo = make_single_project({"requests": "^2.30"})
    repo.write(".gitattributes", "*.png binary\n*.sh text eol=lf")  # no final newline
    config = (repo.path / ".git" / "config").read_bytes()
    attrs = (repo.path / ".gitattributes").read_bytes()
    assert lockfix("install", "--check", cwd=repo.path, poetry=poetry).returncode == 1
    assert lockfix("install", cwd=repo.path, poetry=poetry).returncode == 0
    once = (repo.path / ".gitattributes").read_bytes(), (repo.path / ".git" / "config").read_bytes()
    again = lockfix("install", cwd=repo.path, poetry=poetry)
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert ((repo.path / ".gitattributes").read_bytes(),
            (repo.path / ".git" / "config").read_bytes()) == once
    assert b"poetry.lock merge=lockfix" in once[0]
    status = lockfix("install", "--check", cwd=repo.path, poetry=poetry)
    assert status.returncode == 0, status.stdout
    assert lockfix("uninstall", cwd=repo.path, poetry=poetry).returncode == 0
    assert (repo.path / ".gitattributes").read_bytes() == attrs
    assert (repo.path / ".git" / "config").read_bytes() == config


def test_install_info_attributes_round_trip(make_single_project, poetry):
    repo = make_single_project({"requests": "^2.30"})
    info = repo.path / ".git" / "info" / "attributes"
    before = info.read_bytes() if info.exists() else None
    assert lockfix("install", "--attributes-file", "info", cwd=repo.path, poetry=poetry).returncode == 0
    assert not (repo.path / ".gitattributes").exists()
    assert "pyproject.toml merge=lockfix" in info.read_text()
    assert lockfix("uninstall", "--attributes-file", "info", cwd=repo.path, poetry=poetry).returncode == 0
    assert (info.read_bytes() if info.exists() else None) == before


def test_install_global_routes_every_clone_and_uninstalls_cleanly(make_single_project, poetry):
    """``--global``: git's global config and global attributes file (the default
    $XDG_CONFIG_HOME/git/attributes), nothing in the clone; a merge there just works."""
    repo = make_single_project({"requests": "^2.30"})
    git_env(repo, poetry)
    global_config = Path(poetry.env["HOME"]) / ".gitconfig"
    global_attrs = Path(poetry.env["XDG_CONFIG_HOME"]) / "git" / "attributes"
    before = global_config.read_bytes() if global_config.exists() else None
    local_config = (repo.path / ".git" / "config").read_bytes()
    assert not global_attrs.exists()
    assert lockfix("install", "--global", cwd=repo.path, poetry=poetry).returncode == 0
    assert "lockfix" in global_config.read_text()
    assert "poetry.lock merge=lockfix" in global_attrs.read_text()
    assert (repo.path / ".git" / "config").read_bytes() == local_config
    assert not (repo.path / ".gitattributes").exists()
    assert lockfix("install", "--check", cwd=repo.path, poetry=poetry).returncode == 0
    diverge(repo, poetry)
    proc = repo.merge("feature")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_fresh(repo, poetry)
    assert lockfix("uninstall", "--global", cwd=repo.path, poetry=poetry).returncode == 0
    assert (global_config.read_bytes() if global_config.exists() else None) == before
    assert not global_attrs.exists()  # install created it, so uninstall removes it
    assert lockfix("install", "--check", cwd=repo.path, poetry=poetry).returncode == 1


def test_uninstall_removes_the_drivers_work_directory(project, poetry):
    repo = project
    diverge(repo, poetry)
    assert repo.merge("feature").returncode == 0
    work = repo.path / ".git" / "lockfix"
    assert work.is_dir()  # the driver's Poetry venvs and version cache
    proc = lockfix("uninstall", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0 and "work directory" in proc.stdout
    assert not work.exists()
    assert "lockfix" not in (repo.path / ".git" / "config").read_text()


def test_malformed_side_falls_back_to_plain_conflicts(project, poetry):
    repo = project
    diverge_with_broken_theirs(repo, poetry)
    proc = repo.merge("feature")
    assert proc.returncode != 0
    assert "lockfix: pyproject.toml: pyproject.toml (theirs)" in proc.stderr
    assert "not valid TOML" in proc.stderr
    assert repo.unmerged() == ["pyproject.toml"]  # only theirs changed the lock
    assert repo.has_conflict_markers("pyproject.toml")


def test_timeout_falls_back_and_says_so(make_single_project, poetry):
    repo = make_single_project({"requests": "^2.30"})
    git_env(repo, poetry)
    repo.write("pyproject.toml", repo.read("pyproject.toml") + "\n[tool.lockfix]\ntimeout = 0.05\n")
    install(repo, poetry)
    diverge(repo, poetry)
    proc = repo.merge("feature")
    assert proc.returncode != 0
    assert "did not finish locking" in proc.stderr and "0.05 s" in proc.stderr
    assert repo.unmerged() == ["poetry.lock"]
    assert repo.has_conflict_markers("poetry.lock")
    assert not (repo.path / ".git" / "lockfix" / "tree").exists()


def test_lockfix_disable_gives_plain_git_for_one_command(project, poetry):
    repo = project
    diverge(repo, poetry)
    repo.env = {**repo.env, "LOCKFIX_DISABLE": "1"}
    proc = repo.merge("feature")
    assert proc.returncode != 0
    assert "lockfix" not in proc.stderr
    assert repo.unmerged() == ["poetry.lock", "pyproject.toml"]
    assert repo.has_conflict_markers("poetry.lock") and repo.has_conflict_markers("pyproject.toml")
