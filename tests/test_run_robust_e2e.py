"""`lockfix run` when things go wrong around it, end to end (real git, real Poetry 1.8 and
2.x, the local index): killed mid-relock (issue 11 item 6), a path dependency whose lock
fails (issue 15 item 2), broken locks the merge never touched (issue 15 item 4)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lockfix.config import Settings
from lockfix.git import Git
from lockfix.resolve import plan_workspace
from tests.support.lockfix import lockfix
from tests.support.poetry import PoetryExe
from tests.support.repos import (
    API_GATEWAY,
    BACKGROUND_WORKER,
    CORE,
    GitRepo,
    add_dependency,
    diverge,
    locked_versions,
    set_dependency_text,
)

pytestmark = pytest.mark.e2e

PACKAGES = (CORE, API_GATEWAY, BACKGROUND_WORKER)


def files_of(root: Path) -> dict[str, bytes]:
    """Every file of the working tree (not .git), by relative path."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not (dirpath == str(root) and d == ".git")]
        for name in filenames:
            path = Path(dirpath, name)
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def copy_repo(repo: GitRepo, dest: Path) -> GitRepo:
    shutil.copytree(repo.path, dest, symlinks=True)
    return GitRepo(path=dest, env=dict(repo.env), projects=dict(repo.projects))


def conflicted_monorepo(make_monorepo: Callable[..., GitRepo], poetry: PoetryExe) -> GitRepo:
    """Both branches add a dependency to each of the three packages: a merge that stops
    with all three manifests and all three locks conflicted."""
    repo = make_monorepo()
    repo.branch("feature")
    add_dependency(repo, CORE, "attrs", "^23.1", poetry)
    add_dependency(repo, API_GATEWAY, "structlog", "^23.2", poetry)
    add_dependency(repo, BACKGROUND_WORKER, "redis", "^5.0", poetry, commit="main: three deps")
    repo.checkout("feature")
    add_dependency(repo, CORE, "six", "^1.16", poetry)
    add_dependency(repo, API_GATEWAY, "rich", "^13.6", poetry)
    add_dependency(repo, BACKGROUND_WORKER, "click", "^8.1", poetry, commit="feature: three deps")
    repo.checkout("main")
    assert repo.merge("feature").returncode != 0
    assert repo.unmerged() == sorted(f"{p}/{f}" for p in PACKAGES for f in ("poetry.lock", "pyproject.toml"))
    return repo


def start_run(repo: GitRepo, poetry: PoetryExe) -> subprocess.Popen[bytes]:
    env = {**poetry.env, "LOCKFIX_POETRY": str(poetry.path)}
    return subprocess.Popen([sys.executable, "-m", "lockfix", "run", "--jobs", "2"], cwd=repo.path,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def changed_files(root: Path, before: dict[str, bytes]) -> int:
    return sum((root / rel).read_bytes() != data for rel, data in before.items()
               if rel.endswith(("poetry.lock", "pyproject.toml")))


def private_trees(root: Path) -> int:
    area = root / ".git" / "lockfix" / "run"
    return len(list(area.iterdir())) if area.is_dir() else 0


def kill_when(proc: subprocess.Popen[bytes], moment: Callable[[], bool], deadline: float) -> None:
    """SIGKILL lockfix (only lockfix, as a crash would) once ``moment()`` holds, or at
    ``deadline`` seconds after its start, whichever comes first."""
    started = time.monotonic()
    while proc.poll() is None and time.monotonic() - started < deadline and not moment():
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_killed_run_leaves_each_file_as_git_left_it_or_finished(make_monorepo, poetry, tmp_path):
    """SIGKILL at several moments of a three-package relock: every working-tree file is
    then byte-for-byte what git left or the finished result (no half-made lock beside a
    merged manifest, no temporary file), and a second `lockfix run` finishes the job with
    the same bytes as an uninterrupted run."""
    repo = conflicted_monorepo(make_monorepo, poetry)
    before = files_of(repo.path)

    reference = copy_repo(repo, tmp_path / "reference")
    started = time.monotonic()
    proc = lockfix("run", cwd=reference.path, poetry=poetry)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    final = files_of(reference.path)
    changed = sorted(rel for rel in final if final[rel] != before[rel])
    assert changed == sorted(f"{p}/{f}" for p in PACKAGES for f in ("poetry.lock", "pyproject.toml"))
    assert final.keys() == before.keys()
    for pkg in PACKAGES:  # relocking the result in place changes nothing: the same bytes
        poetry.lock(reference.path / pkg)
    assert files_of(reference.path) == final

    root = Path()  # the attempt's root, for the moments below
    moments: list[tuple[str, Callable[[], bool], float]] = [
        ("core relocking", lambda: private_trees(root) >= 1, took * 0.3),
        ("first file replaced", lambda: changed_files(root, before) >= 1, took * 0.5),
        ("dependents relocking", lambda: private_trees(root) >= 2, took * 0.7),
        ("late", lambda: False, took * 0.85),
    ]
    interrupted = 0
    for n, (what, moment, deadline) in enumerate(moments):
        attempt = copy_repo(repo, tmp_path / f"attempt-{n}")
        root = attempt.path
        kill_when(start_run(attempt, poetry), moment, deadline)
        time.sleep(0.3)  # anything the killed run left running gets its chance to write
        now = files_of(attempt.path)
        assert now.keys() == before.keys(), f"kill at {what}: files appeared or vanished"
        for rel, data in now.items():
            assert data in (before[rel], final[rel]), f"kill at {what}: {rel} is half-made"
        interrupted += now != final

        again = lockfix("run", cwd=attempt.path, poetry=poetry)
        assert again.returncode == 0, again.stdout + again.stderr
        assert files_of(attempt.path) == final, f"kill at {what}: the second run differs"
        assert attempt.unmerged() == []
        assert not (attempt.path / ".git" / "lockfix" / "run").exists()
        status = attempt.git("status", "--porcelain", "--ignored").stdout
        assert "??" not in status and "!!" not in status, status
    assert interrupted >= 2  # the kills did land while work was under way


def test_dry_run_writes_nothing_and_no_private_files_stay(make_monorepo, poetry, tmp_path):
    repo = conflicted_monorepo(make_monorepo, poetry)
    everything = {**files_of(repo.path), **{f".git/{k}": v for k, v in files_of(repo.path / ".git").items()}}

    dry = lockfix("run", "--dry-run", cwd=repo.path, poetry=poetry)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "3 package(s) would change" in dry.stdout
    after = {**files_of(repo.path), **{f".git/{k}": v for k, v in files_of(repo.path / ".git").items()}}
    assert after == everything

    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (repo.path / ".git" / "lockfix" / "run").exists()
    repo.git("commit", "--no-edit")
    assert repo.git("status", "--porcelain", "--ignored").stdout == ""


def test_dependents_relock_when_a_path_dependency_lock_fails(make_monorepo, poetry, index):
    """core's pyproject.toml merges cleanly but its lock cannot be solved (click==8.1.6
    in main, a dev tool needing click 8.1.7): its dependents need only core's manifest,
    which is final, so they are relocked; core alone fails and keeps its files."""
    index.add("clickplugin", "1.0.0", ["click==8.1.7"])
    repo = make_monorepo()
    repo.branch("feature")
    add_dependency(repo, CORE, "click", "8.1.6", poetry)
    add_dependency(repo, API_GATEWAY, "structlog", "^23.2", poetry, commit="main")
    repo.checkout("feature")
    add_dependency(repo, CORE, "clickplugin", "^1.0", poetry, group="dev")
    add_dependency(repo, API_GATEWAY, "rich", "^13.6", poetry, commit="feature")
    repo.checkout("main")
    assert repo.merge("feature").returncode != 0
    assert f"{CORE}/pyproject.toml" not in repo.unmerged()  # merged as text, final
    assert f"{CORE}/poetry.lock" in repo.unmerged()
    assert f"{API_GATEWAY}/pyproject.toml" in repo.unmerged()
    core_lock = repo.read(f"{CORE}/poetry.lock")

    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"could not lock {repo.path / CORE}" in proc.stderr  # not the private tree's path
    summary = proc.stdout.split("lockfix summary:", 1)[1]
    status = {line.split()[0]: line.split()[1] for line in summary.splitlines() if line.strip()
              and not line.strip().startswith("note:")}
    assert status[CORE] == "failed"
    assert status[API_GATEWAY] == "resolved"
    assert repo.read(f"{CORE}/poetry.lock") == core_lock
    gateway = locked_versions(repo.path / API_GATEWAY / "poetry.lock")
    assert {"structlog", "rich", "core", "click"} <= gateway.keys()
    assert gateway["click"] == "8.1.6"  # core's final manifest pins it
    assert poetry.check_lock(repo.path / API_GATEWAY).returncode == 0
    assert repo.unmerged() == [f"{CORE}/poetry.lock"]


def add_broken_fixtures(repo: GitRepo) -> None:
    """What some repositories keep on purpose: a stale lock and an invalid lock."""
    pyproject = repo.read("pyproject.toml")
    repo.write("tests/fixtures/stale/pyproject.toml",
               set_dependency_text(pyproject, "six", "^1.16").replace('name = "app"', 'name = "stale"'))
    repo.write("tests/fixtures/stale/poetry.lock", repo.read("poetry.lock"))
    repo.write("tests/fixtures/invalid/pyproject.toml", pyproject.replace('name = "app"', 'name = "bad"'))
    repo.write("tests/fixtures/invalid/poetry.lock", "[[package]\nthis is not a lock\n")
    repo.commit_all("test fixtures: a stale lock and an invalid lock")


def test_merge_leaves_untouched_broken_locks_alone(make_single_project, poetry):
    repo = make_single_project({"requests": "^2.30"})
    add_broken_fixtures(repo)
    fixtures = {rel: data for rel, data in files_of(repo.path).items() if rel.startswith("tests/")}
    diverge(repo, poetry, ("attrs", "^23.1"), ("click", "^8.1"))
    assert repo.merge("feature").returncode != 0

    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "left alone (not touched by the merge, and already so on both sides)" in proc.stdout
    assert "tests/fixtures/stale: poetry.lock stale" in proc.stdout
    assert "tests/fixtures/invalid:" in proc.stdout
    assert "git commit" in proc.stdout
    assert {rel: data for rel, data in files_of(repo.path).items() if rel.startswith("tests/")} == fixtures
    assert repo.unmerged() == []
    repo.git("commit", "--no-edit")
    assert poetry.check_lock(repo.path).returncode == 0
    assert {"attrs", "click"} <= locked_versions(repo.path / "poetry.lock").keys()


def test_outside_an_operation_all_broken_locks_are_found_and_dot_is_the_root(make_single_project,
                                                                              poetry):
    """No merge under way: `lockfix run` still finds every broken lock, and `lockfix run .`
    means the root package only, not every package under the root."""
    repo = make_single_project({"requests": "^2.30"})
    add_broken_fixtures(repo)
    before = files_of(repo.path)
    dry = lockfix("run", "--dry-run", cwd=repo.path, poetry=poetry)
    assert dry.returncode == 1 and "tests/fixtures/stale: relock" in dry.stdout
    assert "tests/fixtures/invalid: cannot fix" in dry.stdout
    root_only = lockfix("run", ".", cwd=repo.path, poetry=poetry)
    assert root_only.returncode == 0, root_only.stdout + root_only.stderr
    assert "nothing to do" in root_only.stdout
    assert files_of(repo.path) == before


def test_cycle_note_names_the_root_package(tmp_path):
    """A root project and packages/a depending on each other by path: the note spells the
    root `.`, as every other message does."""
    repo = GitRepo.init(tmp_path / "cycle", {**os.environ, "GIT_AUTHOR_NAME": "t",
                                             "GIT_AUTHOR_EMAIL": "t@e.invalid",
                                             "GIT_COMMITTER_NAME": "t",
                                             "GIT_COMMITTER_EMAIL": "t@e.invalid"})
    repo.write("pyproject.toml", '[tool.poetry]\nname = "root"\n\n[tool.poetry.dependencies]\n'
                                 'a = { path = "packages/a" }\n')
    repo.write("poetry.lock", "not a lock [[\n")
    repo.write("packages/a/pyproject.toml", '[tool.poetry]\nname = "a"\n\n[tool.poetry.dependencies]\n'
                                            'root = { path = "../.." }\n')
    repo.commit_all("a cycle")
    ws = plan_workspace(Git(repo.path), Settings())
    assert ws.plans[""].error is not None
    assert "path-dependency cycle: . -> packages/a -> ." in ws.plans[""].notes


SIBLING = """[tool.poetry]
name = "sibling-lib"
version = "0.1.0"
description = "a checkout beside the repository"
authors = ["Test <test@example.invalid>"]
packages = [{ include = "sibling_lib" }]

[tool.poetry.dependencies]
python = ">=3.9"
six = "^1.16"

[build-system]
requires = ["poetry-core>=1.0.0"]
build-backend = "poetry.core.masonry.api"
"""


def test_path_dependency_outside_the_repository_still_relocks(make_single_project, poetry, tmp_path):
    """A relative path dependency leaving the repository (a sibling checkout) cannot sit
    at the same relative place in the private tree: that package is relocked in place,
    as before, and says so; the lock records the same relative path."""
    repo = make_single_project({"requests": "^2.30"})
    lib = tmp_path / "sibling-lib"
    (lib / "sibling_lib").mkdir(parents=True)
    (lib / "sibling_lib" / "__init__.py").write_text("")
    (lib / "pyproject.toml").write_text(SIBLING)
    rel = os.path.relpath(lib, repo.path)
    repo.write("pyproject.toml", set_dependency_text(repo.read("pyproject.toml"), "sibling-lib",
                                                     {"path": rel, "develop": True}))
    poetry.lock(repo.path)
    repo.commit_all("sibling")
    repo.branch("feature")  # as diverge() does, without its in-repository graph helpers
    for branch, name, constraint in (("main", "attrs", "^23.1"), ("feature", "click", "^8.1")):
        repo.checkout(branch)
        repo.write("pyproject.toml", set_dependency_text(repo.read("pyproject.toml"), name, constraint))
        poetry.lock(repo.path)
        repo.commit_all(f"add {name}")
    repo.checkout("main")
    assert repo.merge("feature").returncode != 0

    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "relocked in place: a path dependency lies outside the repository" in proc.stdout
    assert {"attrs", "click", "sibling-lib", "six"} <= locked_versions(repo.path / "poetry.lock").keys()
    assert f'url = "{rel}"' in repo.read("poetry.lock")
    repo.git("commit", "--no-edit")
    assert poetry.check_lock(repo.path).returncode == 0
