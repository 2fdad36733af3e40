"""uv end to end: real git, real uv (0.13.8 and the older 0.5.31 line), the local index.

Every result is checked with real ``uv lock --check`` and by parsed versions: nothing
upgraded that neither side upgraded, and both sides' changes kept.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lockfix.localindex import PackageIndex
from lockfix.toml import load_toml
from tests.support.lockfix import lockfix
from tests.support.poetry import PoetryExe
from tests.support.repos import GitRepo
from tests.support.uv import UvExe

pytestmark = pytest.mark.e2e


def project(name: str, deps: list[str], *, sources: str = "", extra: str = "") -> str:
    listed = "".join(f'    "{d}",\n' for d in deps)
    text = (
        f'[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = ">=3.9"\n'
        f"dependencies = [\n{listed}]\n"
    )
    if sources:
        text += f"\n[tool.uv.sources]\n{sources}"
    return text + extra


def versions(path: Path) -> dict[str, str]:
    data = load_toml(path.read_text(), str(path))
    return {p["name"]: p["version"] for p in data.get("package", [])}


def add_dep(repo: GitRepo, rel: str, requirement: str) -> None:
    text = repo.read(rel)
    repo.write(rel, text.replace("dependencies = [\n", f'dependencies = [\n    "{requirement}",\n', 1))


def lockfix_env(uv: UvExe) -> dict[str, str]:
    return {"LOCKFIX_UV": str(uv.path)}


def new_repo(tmp_path: Path, uv: UvExe, files: dict[str, str], lock_dirs: list[str]) -> GitRepo:
    repo = GitRepo.init(tmp_path / "repo", uv.env)
    for rel, text in files.items():
        repo.write(rel, text)
    for d in lock_dirs:
        uv.lock(repo.path / d)
    repo.commit_all("base")
    return repo


def diverge(repo: GitRepo, uv: UvExe, ours: list[tuple[str, str]], theirs: list[tuple[str, str]],
            lock_dirs: list[str]) -> None:
    """Branch ``feature`` applies ``theirs`` (manifest, requirement) and relocks; main
    applies ``ours`` and relocks. main is checked out at the end."""
    repo.checkout("feature", create=True)
    for rel, req in theirs:
        add_dep(repo, rel, req)
    for d in lock_dirs:
        uv.lock(repo.path / d)
    repo.commit_all("theirs")
    repo.checkout("main")
    for rel, req in ours:
        add_dep(repo, rel, req)
    for d in lock_dirs:
        uv.lock(repo.path / d)
    repo.commit_all("ours")


def install(repo: GitRepo, uv: UvExe, poetry: PoetryExe | None = None) -> None:
    env = {**uv.env, **lockfix_env(uv)}
    proc = lockfix_run(repo, uv, "install", poetry=poetry, env=env)
    assert proc.returncode == 0, proc.stderr
    repo.commit_all("route lock files to lockfix")


def lockfix_run(repo: GitRepo, uv: UvExe, *args: str, poetry: PoetryExe | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**uv.env, **lockfix_env(uv), **(env or {})}
    if poetry is not None:
        return lockfix(*args, cwd=repo.path, poetry=poetry, extra_env=full)
    return subprocess.run([sys.executable, "-m", "lockfix", *args], cwd=repo.path, env=full,
                          capture_output=True, text=True, timeout=600)


def merged_env(repo: GitRepo, uv: UvExe) -> None:
    """git runs the driver with the environment of the git command: give it LOCKFIX_UV."""
    repo.env.update(lockfix_env(uv))


def assert_fresh(uv: UvExe, directory: Path) -> None:
    proc = uv.check_lock(directory)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("mode", ["driver", "run"])
def test_adjacent_additions_nothing_else_upgrades(tmp_path, uv, index: PackageIndex, mode):
    repo = new_repo(tmp_path, uv, {"pyproject.toml": project("app", ["requests>=2.30"])}, [""])
    before = versions(repo.file("uv.lock"))
    if mode == "driver":
        install(repo, uv)
    diverge(repo, uv, [("pyproject.toml", "attrs>=23")], [("pyproject.toml", "click>=8")], [""])
    index.add("requests", "2.32.0", requires=["urllib3>=1.21,<3", "idna>=2.5,<4"])
    merged_env(repo, uv)
    proc = repo.merge("feature")
    if mode == "driver":
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "uv.lock: regenerated" in proc.stderr
    else:
        assert proc.returncode != 0 and "uv.lock" in repo.unmerged()
        ran = lockfix_run(repo, uv, "run")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "next: git commit" in ran.stdout
        repo.git("commit", "-q", "--no-edit")
    assert repo.is_clean()
    after = versions(repo.file("uv.lock"))
    assert after["requests"] == before["requests"]  # 2.32.0 exists now: not taken
    assert {"attrs", "click"} <= set(after)
    assert_fresh(uv, repo.path)


@pytest.mark.parametrize("mode", ["driver", "run"])
def test_lock_only_bump_kept_beside_an_addition(tmp_path, uv, index: PackageIndex, mode):
    repo = new_repo(tmp_path, uv, {"pyproject.toml": project("app", ["requests>=2.30"])}, [""])
    before = versions(repo.file("uv.lock"))
    if mode == "driver":
        install(repo, uv)
    index.add("idna", "3.7", requires_python=">=3.5")
    repo.checkout("feature", create=True)
    uv.run(["lock", "--upgrade-package", "idna", "--refresh"], repo.path)
    assert versions(repo.file("uv.lock"))["idna"] == "3.7"
    repo.commit_all("theirs: bump idna only")
    repo.checkout("main")
    add_dep(repo, "pyproject.toml", "six>=1.16")
    uv.lock(repo.path)
    repo.commit_all("ours: add six")
    merged_env(repo, uv)
    proc = repo.merge("feature")
    if mode == "run":
        if proc.returncode != 0:
            ran = lockfix_run(repo, uv, "run")
            assert ran.returncode == 0, ran.stdout + ran.stderr
            repo.git("commit", "-q", "--no-edit")
    else:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    after = versions(repo.file("uv.lock"))
    assert after["idna"] == "3.7" and "six" in after
    assert after["requests"] == before["requests"]
    assert_fresh(uv, repo.path)


@pytest.mark.parametrize("op", ["rebase", "cherry-pick"])
def test_rebase_and_cherry_pick_through_the_driver(tmp_path, uv, index: PackageIndex, op):
    repo = new_repo(tmp_path, uv, {"pyproject.toml": project("app", ["requests>=2.30"])}, [""])
    install(repo, uv)
    diverge(repo, uv, [("pyproject.toml", "attrs>=23")], [("pyproject.toml", "click>=8")], [""])
    merged_env(repo, uv)
    if op == "rebase":
        repo.checkout("feature")
        proc = repo.git("rebase", "main", check=False)
    else:
        proc = repo.git("cherry-pick", "feature", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {"attrs", "click"} <= set(versions(repo.file("uv.lock")))
    assert_fresh(uv, repo.path)


WORKSPACE_ROOT = """[project]
name = "root"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = []

[tool.uv.workspace]
members = ["packages/*"]
"""


@pytest.mark.parametrize("mode", ["driver", "run"])
def test_workspace_where_two_members_change(tmp_path, uv, index: PackageIndex, mode):
    files = {
        "pyproject.toml": WORKSPACE_ROOT,
        "packages/core/pyproject.toml": project("core", ["requests>=2.30"]),
        "packages/api/pyproject.toml": project(
            "api", ["core"], sources="core = { workspace = true }\n"),
    }
    repo = new_repo(tmp_path, uv, files, [""])
    before = versions(repo.file("uv.lock"))
    if mode == "driver":
        install(repo, uv)
    diverge(repo, uv, [("packages/core/pyproject.toml", "attrs>=23")],
            [("packages/api/pyproject.toml", "click>=8")], [""])
    merged_env(repo, uv)
    if mode == "driver":
        proc = repo.merge("feature")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    else:
        # git may merge the lock text "cleanly" (changes far apart) into a stale lock:
        # lockfix run fixes it as well as a conflicted one, before the merge commit
        repo.merge("feature", args=["--no-commit"])
        ran = lockfix_run(repo, uv, "run")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        repo.git("commit", "-q", "--no-edit")
    after = versions(repo.file("uv.lock"))
    assert {"attrs", "click"} <= set(after) and after["requests"] == before["requests"]
    assert_fresh(uv, repo.path)


@pytest.mark.parametrize("mode", ["driver", "run"])
def test_per_package_monorepo_with_path_dependencies(tmp_path, uv, index: PackageIndex, mode):
    files = {
        "packages/core/pyproject.toml": project("core", ["requests>=2.30"]),
        "packages/api/pyproject.toml": project(
            "api", ["core"], sources='core = { path = "../core", editable = true }\n'),
    }
    repo = new_repo(tmp_path, uv, files, ["packages/core", "packages/api"])
    if mode == "driver":
        install(repo, uv)
    diverge(repo, uv, [("packages/core/pyproject.toml", "attrs>=23")],
            [("packages/core/pyproject.toml", "six>=1.16"), ("packages/api/pyproject.toml", "click>=8")],
            ["packages/core", "packages/api"])
    merged_env(repo, uv)
    proc = repo.merge("feature")
    if mode == "driver":
        assert proc.returncode == 0, proc.stdout + proc.stderr
        # both locks conflicted: relocked together by one worker (lockfix.batch)
        assert proc.stderr.count("relocked with 1 other lock(s) of this merge") == 2, proc.stderr
    else:
        ran = lockfix_run(repo, uv, "run")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        repo.git("commit", "-q", "--no-edit")
    for d in ("packages/core", "packages/api"):
        assert_fresh(uv, repo.path / d)
    assert {"attrs", "six", "click"} <= set(versions(repo.file("packages/api/uv.lock")))


def test_uv_missing_leaves_plain_conflict_and_one_line(tmp_path, uv, index: PackageIndex):
    repo = new_repo(tmp_path, uv, {"pyproject.toml": project("app", ["requests>=2.30"])}, [""])
    install(repo, uv)
    diverge(repo, uv, [("pyproject.toml", "attrs>=23")], [("pyproject.toml", "click>=8")], [""])
    repo.env["LOCKFIX_UV"] = str(tmp_path / "no-such-uv")
    proc = repo.merge("feature")
    assert proc.returncode != 0
    assert "uv.lock" in repo.unmerged() and repo.has_conflict_markers("uv.lock")
    assert "lockfix: uv.lock: uv not found" in proc.stderr


def test_unsolvable_constraints_leave_plain_conflict(tmp_path, uv, index: PackageIndex):
    repo = new_repo(tmp_path, uv, {"pyproject.toml": project("app", ["requests>=2.30"])}, [""])
    install(repo, uv)
    index.add("clicky", "1.0.0", requires=["click>=8.1.7"])
    diverge(repo, uv, [("pyproject.toml", "click==8.1.6")], [("pyproject.toml", "clicky>=1")], [""])
    merged_env(repo, uv)
    proc = repo.merge("feature")
    assert proc.returncode != 0 and "uv.lock" in repo.unmerged()
    assert "could not lock" in proc.stderr
    ran = lockfix_run(repo, uv, "run")
    assert ran.returncode == 1 and "left as they were" in ran.stderr
    assert repo.has_conflict_markers("uv.lock")


def test_lock_committed_with_markers_is_repaired_by_run(tmp_path, uv, index: PackageIndex):
    repo = new_repo(tmp_path, uv, {"pyproject.toml": project("app", ["requests>=2.30"])}, [""])
    diverge(repo, uv, [("pyproject.toml", "attrs>=23")], [("pyproject.toml", "click>=8")], [""])
    repo.merge("feature")
    # a person fixes pyproject.toml by hand and commits the lock with its markers
    text = repo.read("pyproject.toml")
    if "<<<<<<<" in text:
        repo.write("pyproject.toml", project("app", ["click>=8", "attrs>=23", "requests>=2.30"]))
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-edit")
    assert repo.has_conflict_markers("uv.lock")
    ran = lockfix_run(repo, uv, "run")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert not repo.has_conflict_markers("uv.lock")
    assert {"attrs", "click"} <= set(versions(repo.file("uv.lock")))
    assert_fresh(uv, repo.path)


def poetry_add(repo: GitRepo, rel: str, line: str) -> None:
    text = repo.read(rel)
    repo.write(rel, text.replace('requests = "^2.30"', 'requests = "^2.30"\n' + line, 1))


def test_poetry_and_uv_packages_conflicted_in_one_merge(tmp_path, uv, poetry, index: PackageIndex):
    """A repository migrating from Poetry to uv: one package of each, both conflicted."""
    from tests.support.repos import pyproject_text

    repo = GitRepo.init(tmp_path / "repo", {**poetry.env, **uv.env})
    repo.write("packages/old/pyproject.toml",
               pyproject_text("old", {"requests": "^2.30"}, index_url=index.url))
    repo.write("packages/new/pyproject.toml", project("new", ["requests>=2.30"]))
    poetry.lock(repo.path / "packages/old")
    uv.lock(repo.path / "packages/new")
    repo.commit_all("base")
    proc = lockfix("install", cwd=repo.path, poetry=poetry, extra_env=lockfix_env(uv))
    assert proc.returncode == 0, proc.stderr
    repo.commit_all("install")
    repo.checkout("feature", create=True)
    add_dep(repo, "packages/new/pyproject.toml", "click>=8")
    uv.lock(repo.path / "packages/new")
    poetry_add(repo, "packages/old/pyproject.toml", 'click = "^8.1"')
    poetry.lock(repo.path / "packages/old")
    repo.commit_all("theirs")
    repo.checkout("main")
    add_dep(repo, "packages/new/pyproject.toml", "attrs>=23")
    uv.lock(repo.path / "packages/new")
    poetry_add(repo, "packages/old/pyproject.toml", 'attrs = "^23.1"')
    poetry.lock(repo.path / "packages/old")
    repo.commit_all("ours")
    repo.env.update({"LOCKFIX_POETRY": str(poetry.path), **lockfix_env(uv)})
    merged = repo.merge("feature")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert {"attrs", "click"} <= set(versions(repo.file("packages/new/uv.lock")))
    assert_fresh(uv, repo.path / "packages/new")
    assert poetry.check_lock(repo.path / "packages/old").returncode == 0
    old = load_toml(repo.read("packages/old/poetry.lock"), "poetry.lock")
    assert {"attrs", "click"} <= {p["name"] for p in old["package"]}
    assert os.path.exists(repo.path / "packages/old/poetry.lock")


def set_requirement(repo: GitRepo, rel: str, old: str, new: str) -> None:
    text = repo.read(rel)
    assert f'"{old}"' in text
    repo.write(rel, text.replace(f'"{old}"', f'"{new}"', 1))


@pytest.mark.parametrize("mode", ["driver", "run"])
def test_constraint_clash_takes_the_newer_constraint(tmp_path, uv, index: PackageIndex, mode):
    """Both sides change the same requirement: the merged manifest takes the one with the
    higher lower bound (manifest-policy newer), and the lock follows it, although theirs'
    lock-only move (click 8.1.6) was a one-sided change of the lock."""
    repo = new_repo(tmp_path, uv, {"pyproject.toml": project("app", ["click>=8"])}, [""])
    assert versions(repo.file("uv.lock"))["click"] == "8.1.7"
    if mode == "driver":
        install(repo, uv)
    repo.checkout("feature", create=True)
    set_requirement(repo, "pyproject.toml", "click>=8", "click>=8,<8.1.7")
    uv.lock(repo.path)
    repo.commit_all("theirs: cap click")
    repo.checkout("main")
    set_requirement(repo, "pyproject.toml", "click>=8", "click>=8.1.7")
    uv.lock(repo.path)
    repo.commit_all("ours: raise click's floor")
    merged_env(repo, uv)
    proc = repo.merge("feature")
    if mode == "driver":
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "took ours (newer" in proc.stderr
    else:
        ran = lockfix_run(repo, uv, "run")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        repo.git("commit", "-q", "--no-edit")
    assert '"click>=8.1.7"' in repo.read("pyproject.toml")
    assert versions(repo.file("uv.lock"))["click"] == "8.1.7"
    assert_fresh(uv, repo.path)
