"""Lock merges that keep what a side locked instead of sending Poetry to fetch it again.

End to end, in both modes (the merge driver inside ``git merge``; a plain merge then
``lockfix run``) and on both Poetry lines:

- issue 11 item 7: a lock written by Poetry 1.0 (no ``lock-version``) is relocked keeping
  its versions, also by Poetry 2.x, which refuses such a lock as it is;
- issue 11 item 9: a git dependency both sides locked at different commits of the same
  branch merges with the repository unreachable under the default ``higher-or-drop``,
  where ``drop`` has to fetch it again and fails;
- issue 15 item 3: a git dependency whose spec both sides changed keeps the locked entry
  of the side whose spec the merged pyproject.toml took, again with the repository gone.

The git dependency is a real repository on disk (``file://``), moved away once both
sides have locked: any fetch after that fails, so success proves none was needed.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from lockfix.localindex import PackageIndex
from tests.support.lockfix import lockfix
from tests.support.poetry import PoetryExe
from tests.support.repos import (
    GitRepo,
    add_dependency,
    locked_package,
    locked_versions,
    update_dependency,
)

pytestmark = pytest.mark.e2e


# -- a git dependency served from a repository on disk -----------------------------------------


@dataclass
class GitPackage:
    """``gitpkg``, a tiny Poetry package in a bare repository reached by a ``file://`` URL;
    each :meth:`publish` commits a new version on ``main`` and tags it ``v<version>``."""

    work: Path
    bare: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def _git(self, *args: str, cwd: Path) -> str:
        proc = subprocess.run(
            ["git", "-c", "commit.gpgsign=false", *args], cwd=cwd, env=self.env,
            capture_output=True, text=True, timeout=60,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout.strip()

    def publish(self, version: str) -> str:
        """Commit ``version`` on main, tag it, push both; returns the commit."""
        (self.work / "pyproject.toml").write_text(
            "[tool.poetry]\n"
            'name = "gitpkg"\n'
            f'version = "{version}"\n'
            'description = "a dependency installed from git"\n'
            'authors = ["Test <test@example.invalid>"]\n\n'
            "[tool.poetry.dependencies]\n"
            'python = ">=3.8"\n'
            'six = ">=1.16"\n\n'
            "[build-system]\n"
            'requires = ["poetry-core>=1.0.0"]\n'
            'build-backend = "poetry.core.masonry.api"\n'
        )
        (self.work / "gitpkg").mkdir(exist_ok=True)
        (self.work / "gitpkg" / "__init__.py").write_text(f'__version__ = "{version}"\n')
        self._git("add", "-A", cwd=self.work)
        self._git("commit", "-q", "-m", f"gitpkg {version}", cwd=self.work)
        self._git("tag", f"v{version}", cwd=self.work)
        self._git("push", "-q", "--tags", str(self.bare), "main", cwd=self.work)
        return self._git("rev-parse", "HEAD", cwd=self.work)

    def make_unreachable(self) -> None:
        """Move the repository away: from now on every fetch of it fails."""
        shutil.move(str(self.bare), str(self.bare.with_name("moved-away.git")))


@pytest.fixture
def gitpkg(tmp_path: Path, poetry: PoetryExe) -> GitPackage:
    work, bare = tmp_path / "gitpkg-src", tmp_path / "gitpkg.git"
    work.mkdir()
    pkg = GitPackage(work, bare, dict(poetry.env))
    pkg._git("init", "-q", "-b", "main", cwd=work)
    pkg._git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    pkg.publish("1.0.0")
    return pkg


# -- the two ways of merging ----------------------------------------------------------------


def install(repo: GitRepo, poetry: PoetryExe) -> None:
    """Driver mode: lockfix registered, Poetry found through the environment git passes."""
    repo.env = {**repo.env, "LOCKFIX_POETRY": str(poetry.path)}
    proc = lockfix("install", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    repo.commit_all("route Poetry files to lockfix")


def merge(repo: GitRepo, poetry: PoetryExe, mode: str, *flags: str) -> tuple[bool, str]:
    """``git merge feature`` (driver) or ``git merge`` then ``lockfix run [FLAGS]``:
    (success, output). A conflicted root pyproject.toml is unreadable, so ``lockfix run``
    cannot take its ``[tool.lockfix]`` from there: the flags say the same on the command line."""
    proc = repo.merge("feature")
    if mode == "driver":
        return proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.returncode != 0, "plain git was expected to stop on the lock"
    assert "poetry.lock" in repo.unmerged()
    run = lockfix("run", *flags, cwd=repo.path, poetry=poetry)
    if run.returncode == 0:
        repo.git("commit", "--no-edit")
    return run.returncode == 0, run.stdout + run.stderr


def configure(repo: GitRepo, **settings: str) -> None:
    """``[tool.lockfix]`` in the root pyproject.toml, committed."""
    lines = "".join(f'{key} = "{value}"\n' for key, value in settings.items())
    repo.write("pyproject.toml", repo.read("pyproject.toml") + f"\n[tool.lockfix]\n{lines}")
    repo.commit_all("configure lockfix")


def assert_fresh(repo: GitRepo, poetry: PoetryExe) -> None:
    assert not repo.has_conflict_markers("poetry.lock")
    proc = poetry.check_lock(repo.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- issue 11 item 9: one branch spec, two locked commits ------------------------------------


@pytest.mark.parametrize("mode", ["driver", "run"])
@pytest.mark.parametrize("policy", ["default", "drop"])
def test_git_branch_locked_at_two_commits_merges_without_fetching(
    make_single_project, poetry: PoetryExe, gitpkg: GitPackage, mode: str, policy: str
) -> None:
    repo = make_single_project({"requests": "^2.30"})
    if policy != "default":
        configure(repo, **{"lock-policy": policy})
    spec = {"git": gitpkg.url, "branch": "main"}
    add_dependency(repo, ".", "gitpkg", spec, poetry, commit="add gitpkg from git")
    assert locked_versions(repo.path / "poetry.lock")["gitpkg"] == "1.0.0"
    if mode == "driver":
        install(repo, poetry)
    repo.branch("feature")
    ours = gitpkg.publish("1.1.0")
    update_dependency(repo, ".", "gitpkg", poetry, commit="gitpkg: main moved to 1.1.0")
    repo.checkout("feature")
    theirs = gitpkg.publish("1.2.0")
    update_dependency(repo, ".", "gitpkg", poetry, commit="gitpkg: main moved to 1.2.0")
    assert locked_package(repo.path / "poetry.lock", "gitpkg")["source"]["resolved_reference"] == theirs
    repo.checkout("main")
    gitpkg.make_unreachable()

    ok, output = merge(repo, poetry, mode)
    if policy == "drop":
        # drop forgets both commits: Poetry must fetch the branch, which is gone
        assert not ok, output
        assert "poetry.lock" in repo.unmerged()
        return
    assert ok, output
    entry = locked_package(repo.path / "poetry.lock", "gitpkg")
    assert entry["version"] == "1.2.0"  # the higher side's commit, not past it
    assert entry["source"]["resolved_reference"] == theirs != ours
    assert entry["source"]["reference"] == "main"
    assert locked_versions(repo.path / "poetry.lock")["requests"] == "2.31.0"
    assert_fresh(repo, poetry)
    assert repo.is_clean()



@pytest.mark.parametrize("mode", ["driver", "run"])
def test_index_package_both_sides_updated_stays_at_a_sides_version(
    make_single_project, poetry: PoetryExe, index: PackageIndex, mode: str
) -> None:
    """Both sides ran ``poetry update idna`` (3.7, 3.8); 3.9 is out by merge time. ``drop``
    lets Poetry take 3.9, past what either side chose; the default keeps theirs' 3.8."""
    repo = make_single_project({"requests": "^2.30"})
    if mode == "driver":
        install(repo, poetry)
    repo.branch("feature")
    index.add("idna", "3.7")
    update_dependency(repo, ".", "idna", poetry, commit="idna 3.7")
    repo.checkout("feature")
    index.add("idna", "3.8")
    update_dependency(repo, ".", "idna", poetry, commit="idna 3.8")
    repo.checkout("main")
    index.add("idna", "3.9")

    ok, output = merge(repo, poetry, mode)
    assert ok, output
    versions = locked_versions(repo.path / "poetry.lock")
    assert versions["idna"] == "3.8"
    assert versions["requests"] == "2.31.0"
    assert_fresh(repo, poetry)

# -- issue 15 item 3: both sides changed the spec, the merge took one ------------------------


@pytest.mark.parametrize(
    ("mode", "policy"), [("driver", "default"), ("run", "default"), ("run", "drop")]
)
def test_git_spec_taken_from_one_side_keeps_that_sides_lock_entry(
    make_single_project, poetry: PoetryExe, gitpkg: GitPackage, mode: str, policy: str
) -> None:
    """Both sides re-pin gitpkg to another tag; ``manifest-policy = "ours"`` keeps ours'
    tag, so ours' locked entry (the lower version: not the one ``higher`` would keep) is
    the one Poetry can use without fetching."""
    commits = {v: gitpkg.publish(v) for v in ("1.1.0", "1.2.0")}
    repo = make_single_project({"requests": "^2.30"})
    settings = {"manifest-policy": "ours"}
    if policy != "default":
        settings["lock-policy"] = policy
    configure(repo, **settings)
    add_dependency(repo, ".", "gitpkg", {"git": gitpkg.url, "tag": "v1.0.0"}, poetry,
                   commit="add gitpkg 1.0.0 from git")
    if mode == "driver":
        install(repo, poetry)
    repo.branch("feature")
    add_dependency(repo, ".", "gitpkg", {"git": gitpkg.url, "tag": "v1.1.0"}, poetry,
                   commit="gitpkg 1.1.0")
    repo.checkout("feature")
    add_dependency(repo, ".", "gitpkg", {"git": gitpkg.url, "tag": "v1.2.0"}, poetry,
                   commit="gitpkg 1.2.0")
    repo.checkout("main")
    gitpkg.make_unreachable()

    flags = [f"--{key}={value}" for key, value in settings.items()]
    ok, output = merge(repo, poetry, mode, *flags)
    assert ok, output
    assert 'tag = "v1.1.0"' in repo.read("pyproject.toml")
    entry = locked_package(repo.path / "poetry.lock", "gitpkg")
    assert (entry["version"], entry["source"]["reference"]) == ("1.1.0", "v1.1.0")
    assert entry["source"]["resolved_reference"] == commits["1.1.0"]
    assert_fresh(repo, poetry)


# -- issue 11 item 7: locks written by Poetry 1.0 ---------------------------------------------


def as_poetry_1_0(text: str) -> str:
    """A lock in the layout Poetry 1.0 wrote: no lock-version, no header, files under
    ``[metadata.files]``, a ``category`` per package, no ``groups``/``markers``."""
    data = tomlkit.parse(text).unwrap()
    files: dict[str, Any] = {}
    packages = []
    for entry in data["package"]:
        files[entry["name"]] = entry.pop("files", [])
        entry.pop("groups", None)
        entry.pop("markers", None)
        packages.append({"category": "main", **entry})
    metadata = {k: v for k, v in data["metadata"].items() if k != "lock-version"}
    metadata["files"] = files
    return tomlkit.dumps({"package": packages, "metadata": metadata})


def add_with_poetry_1_0(
    repo: GitRepo, name: str, constraint: str, poetry: PoetryExe, modern: str
) -> None:
    """What a Poetry 1.0 user did on a branch: add ``name`` and relock. The test's Poetry
    relocks from ``modern`` (the same versions in a layout it can read) and the result is
    written back in Poetry 1.0's layout."""
    repo.write("poetry.lock", modern)
    add_dependency(repo, ".", name, constraint, poetry)
    repo.write("poetry.lock", as_poetry_1_0(repo.read("poetry.lock")))
    repo.commit_all(f"add {name} (Poetry 1.0)")


KEPT = {"requests": "2.31.0", "urllib3": "2.0.7", "idna": "3.6", "certifi": "2023.7.22"}


def publish_newer(index: PackageIndex) -> None:
    """Newer releases of everything locked: a relock from scratch would take them."""
    index.add("requests", "2.32.0", ["urllib3>=1.21,<3", "idna>=2.5,<4", "certifi>=2017.4.17"])
    index.add("urllib3", "2.2.0")
    index.add("idna", "3.7")
    index.add("certifi", "2024.2.2")


@pytest.mark.parametrize("mode", ["driver", "run"])
def test_poetry_1_0_locks_merge_keeping_their_versions(
    make_single_project, poetry: PoetryExe, index: PackageIndex, mode: str
) -> None:
    repo = make_single_project({"requests": "^2.30"})
    modern = repo.read("poetry.lock")
    assert {k: locked_versions(repo.path / "poetry.lock")[k] for k in KEPT} == KEPT
    repo.write("poetry.lock", as_poetry_1_0(modern))
    repo.commit_all("the lock as Poetry 1.0 wrote it")
    if mode == "driver":
        install(repo, poetry)
    repo.branch("feature")
    add_with_poetry_1_0(repo, "attrs", "^23.1", poetry, modern)
    repo.checkout("feature")
    add_with_poetry_1_0(repo, "click", "^8.1", poetry, modern)
    repo.checkout("main")
    assert "lock-version" not in repo.read("poetry.lock")
    publish_newer(index)

    ok, output = merge(repo, poetry, mode)
    assert ok, output
    versions = locked_versions(repo.path / "poetry.lock")
    assert {"attrs", "click"} <= versions.keys()
    assert {k: versions[k] for k in KEPT} == KEPT  # nothing upgraded
    assert_fresh(repo, poetry)


def test_stale_poetry_1_0_lock_is_relocked_keeping_its_versions(
    make_single_project, poetry: PoetryExe, index: PackageIndex
) -> None:
    """No merge at all: a dependency added to pyproject.toml without relocking leaves a
    stale Poetry 1.0 lock, which ``lockfix run`` relocks from, not from scratch."""
    repo = make_single_project({"requests": "^2.30"})
    repo.write("poetry.lock", as_poetry_1_0(repo.read("poetry.lock")))
    text = repo.read("pyproject.toml").replace('requests = "^2.30"', 'requests = "^2.30"\nclick = "^8.1"')
    repo.write("pyproject.toml", text)
    repo.commit_all("click, lock not updated")
    publish_newer(index)

    run = lockfix("run", cwd=repo.path, poetry=poetry)
    assert run.returncode == 0, run.stdout + run.stderr
    versions = locked_versions(repo.path / "poetry.lock")
    assert versions["click"] == "8.1.7"
    assert {k: versions[k] for k in KEPT} == KEPT
    assert_fresh(repo, poetry)
