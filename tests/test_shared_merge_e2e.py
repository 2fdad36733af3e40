"""A monorepo merge through the driver: one shared batch of relocks (lockfix.batch).

Every promise of issue 12 against real git and real Poetry: each driver call returns
exactly what it returns alone (``LOCKFIX_SHARE=0``), nothing outlives the git command or
stays behind in ``.git/lockfix``, a failing lock or a killed worker or Ctrl-C ends as
plain git plus one line per file, and two worktrees merging at once keep their work apart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.support.poetry import discover_poetries, version_of
from tests.support.repos import (
    API_GATEWAY,
    BACKGROUND_WORKER,
    CORE,
    GitRepo,
    diverge,
    diverge_packages,
    locked_versions,
)
from tests.test_driver_e2e import git_env
from tests.test_driver_e2e import install as install_driver

pytestmark = pytest.mark.e2e

PACKAGES = (CORE, API_GATEWAY, BACKGROUND_WORKER)
FILES = [f"{p}/{n}" for p in PACKAGES for n in ("pyproject.toml", "poetry.lock")]
NEWEST = max(discover_poetries(), key=version_of, default=None)
newest_poetry = pytest.mark.parametrize("poetry", [NEWEST] if NEWEST else [], indirect=True,
                                        ids=["poetry-newest"] if NEWEST else [])


#: main adds attrs to core; feature adds six to core and structlog to api-gateway. Merging
#: feature into main conflicts in core's pyproject.toml and in all three locks.
OURS = [(CORE, "attrs", "^23.1")]
THEIRS = [(CORE, "six", "^1.16"), (API_GATEWAY, "structlog", "^23.2")]


def install(repo: GitRepo, poetry) -> None:
    git_env(repo, poetry)
    install_driver(repo, poetry)


def snapshot(repo: GitRepo) -> dict[str, str]:
    return {f: repo.read(f) for f in FILES}


def work_dir(repo: GitRepo) -> Path:
    return repo.path / ".git" / "lockfix"


def workers() -> list[int]:
    """Pids of running batch workers (any test's: the caller filters by directory)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"lockfix.batchworker" in cmdline:
                found.append(int(entry))
    return found


def workers_of(repo: GitRepo) -> list[int]:
    mine = []
    for pid in workers():
        try:
            if str(work_dir(repo)) in Path(f"/proc/{pid}/cmdline").read_bytes().decode():
                mine.append(pid)
        except OSError:
            continue
    return mine


def assert_nothing_left(repo: GitRepo, timeout: float = 15.0) -> None:
    """No batch directory, no private tree, no worker: within moments of git's end."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p.name for p in work_dir(repo).glob("*") if p.name.lstrip(".").startswith("batch-")
                or p.name in ("trees", "tree")]
        running = workers_of(repo)
        if not left and not running:
            return
        assert time.monotonic() < deadline, f"left behind: {left}, workers {running}"
        time.sleep(0.1)


def alone(repo: GitRepo, start: str) -> dict[str, str]:
    """The same merge again, every driver call on its own."""
    repo.git("reset", "-q", "--hard", start)
    saved = repo.env
    repo.env = {**saved, "LOCKFIX_SHARE": "0"}
    try:
        proc = repo.merge("feature")
    finally:
        repo.env = saved
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "other lock(s) of this merge" not in proc.stderr
    return snapshot(repo)


@pytest.fixture
def diverged(make_monorepo, poetry) -> GitRepo:
    repo = make_monorepo()
    install(repo, poetry)
    diverge_packages(repo, poetry, OURS, THEIRS)
    return repo


def test_shared_merge_equals_every_call_alone(diverged, poetry):
    repo = diverged
    start = repo.head()
    proc = repo.merge("feature")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for pkg in PACKAGES:  # every lock call took the shared result
        assert f"{pkg}/poetry.lock: regenerated" in proc.stderr
    assert proc.stderr.count("relocked with 2 other lock(s) of this merge") == 3, proc.stderr
    shared = snapshot(repo)
    assert_nothing_left(repo)
    assert alone(repo, start) == shared
    for pkg in PACKAGES:
        assert poetry.check_lock(repo.path / pkg).returncode == 0
    assert {"attrs", "six", "structlog"} <= locked_versions(repo.path / API_GATEWAY / "poetry.lock").keys()


@newest_poetry
def test_rebase_shares_each_pick_separately(make_monorepo, poetry):
    repo = make_monorepo()
    install(repo, poetry)
    diverge_packages(repo, poetry, OURS, [(CORE, "six", "^1.16"), (CORE, "click", "^8.1")],
                     end="feature")
    feature = repo.head()
    results = {}
    for share in ("1", "0"):
        repo.git("checkout", "-q", "-B", "feature", feature)
        repo.env = {**repo.env, "LOCKFIX_SHARE": share}
        proc = repo.git("rebase", "main", check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert ("other lock(s) of this merge" in proc.stderr) == (share == "1")
        results[share] = (snapshot(repo), repo.git("rev-parse", "HEAD^{tree}").stdout)
        assert_nothing_left(repo)
    assert results["1"] == results["0"]
    assert {"attrs", "six", "click"} <= locked_versions(repo.path / CORE / "poetry.lock").keys()


@newest_poetry
def test_one_unsolvable_lock_conflicts_alone(make_monorepo, poetry, index):
    """background-worker cannot be locked after the merge; the other two locks can."""
    index.add("attrs", "22.2.0")
    index.add("pinned-attrs", "1.0.0", ["attrs==22.2.0"])
    repo = make_monorepo()
    install(repo, poetry)
    diverge_packages(repo, poetry, OURS,
                     [(CORE, "six", "^1.16"), (BACKGROUND_WORKER, "pinned-attrs", "^1.0")])
    proc = repo.merge("feature")
    assert proc.returncode != 0
    assert repo.unmerged() == [f"{BACKGROUND_WORKER}/poetry.lock"], proc.stderr
    assert repo.has_conflict_markers(f"{BACKGROUND_WORKER}/poetry.lock")
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith(f"lockfix: {BACKGROUND_WORKER}/")]
    assert len(lines) == 1 and "left conflict markers" in lines[0], proc.stderr
    for pkg in (CORE, API_GATEWAY):
        assert poetry.check_lock(repo.path / pkg).returncode == 0
    assert_nothing_left(repo)


def _kill_worker_when_started(repo: GitRepo, sig: int, found: list[int]) -> threading.Thread:
    def hunt() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not found:
            for pid in workers_of(repo):
                os.kill(pid, sig)
                found.append(pid)
            time.sleep(0.005)

    thread = threading.Thread(target=hunt, daemon=True)
    thread.start()
    return thread


@newest_poetry
def test_killed_worker_means_each_call_works_alone(diverged, poetry):
    repo = diverged
    start = repo.head()
    killed: list[int] = []
    hunter = _kill_worker_when_started(repo, signal.SIGKILL, killed)
    proc = repo.merge("feature")
    hunter.join()
    assert killed, "no worker was started"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shared = snapshot(repo)
    assert_nothing_left(repo)
    assert alone(repo, start) == shared


@newest_poetry
def test_ctrl_c_during_a_shared_merge_leaves_nothing(diverged, poetry, tmp_path):
    repo = diverged
    before = snapshot(repo)
    # a slow relock (a slow index, in life) keeps git in its driver calls when Ctrl-C comes
    slow = tmp_path / "slow-poetry"
    slow.write_text(f'#!/bin/sh\ncase "$1" in lock) sleep 5;; esac\nexec "{poetry.path}" "$@"\n')
    slow.chmod(0o755)
    repo.env = {**repo.env, "LOCKFIX_POETRY": str(slow)}
    merge = subprocess.Popen(["git", "merge", "--no-edit", "feature"], cwd=repo.path,
                             env=repo.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    deadline = time.monotonic() + 60
    while not workers_of(repo):
        assert time.monotonic() < deadline and merge.poll() is None, "no worker was started"
        time.sleep(0.01)
    os.killpg(merge.pid, signal.SIGINT)  # what Ctrl-C sends the terminal's foreground group
    merge.communicate(timeout=60)
    assert_nothing_left(repo)
    assert not (repo.path / ".git" / "index.lock").exists()
    if snapshot(repo) == before:  # git stopped before writing anything
        assert repo.git("status", "--porcelain", "--untracked-files=no").stdout == ""
        return
    # under load git was seen to get further (its checkout, even its conflicts): what it
    # wrote is git's business; every lock is still whole: main's, git's conflict, or fresh
    for pkg in PACKAGES:
        lock = f"{pkg}/poetry.lock"
        assert (repo.read(lock) == before[lock] or repo.has_conflict_markers(lock)
                or poetry.check_lock(repo.path / pkg).returncode == 0), lock


@newest_poetry
def test_two_worktrees_merging_at_once_keep_their_work_apart(diverged, poetry, tmp_path):
    repo = diverged
    other = tmp_path / "second-worktree"
    repo.git("worktree", "add", "-q", "-b", "main-2", str(other), "main")
    procs = [subprocess.Popen(["git", "merge", "--no-edit", "feature"], cwd=cwd, env=repo.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cwd in (repo.path, other)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err
        assert err.count("other lock(s) of this merge") == 3, err
    second = GitRepo(other, repo.env)
    assert snapshot(second) == snapshot(repo)
    assert_nothing_left(repo)
    assert not [p for p in (repo.path / ".git" / "worktrees").glob("*/lockfix/batch-*")]


@newest_poetry
def test_single_lock_merge_is_not_shared(make_single_project, poetry):
    repo = make_single_project({"requests": "^2.30"})
    install(repo, poetry)
    diverge(repo, poetry)  # main adds attrs, feature click: one lock conflicts
    proc = repo.merge("feature")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "poetry.lock: regenerated" in proc.stderr
    assert "other lock(s)" not in proc.stderr
    assert not workers_of(repo)
