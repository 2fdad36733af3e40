"""PoetrySession: many relocks through one started Poetry (lockfix/poetry_server.py).

Real Poetry (both lines), real projects, the local index. What must hold: the same lock as
a plain ``poetry lock`` process, the same errors, timeouts that kill Poetry and whatever it
started, and no Poetry left running when lockfix goes away, however it goes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lockfix.backends.poetry.tool import find_poetry
from lockfix.errors import PoetryError
from tests.support.repos import GitRepo, set_dependency_text, write_project


def processes_in(directory: Path) -> list[int]:
    """Pids of the processes whose working directory is ``directory`` (or below it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == directory or directory in cwd.parents:
            found.append(int(entry.name))
    return found


def wait_until(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def stalled_index():
    """An index that accepts connections and never answers: Poetry hangs on it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/simple/"
    sock.close()


def lockfix_poetry(poetry):
    return find_poetry(str(poetry.path), env=poetry.env)


def new_project(where: Path, poetry, deps, index) -> Path:
    repo = GitRepo.init(where, poetry.env)
    write_project(repo, ".", "app", deps, index=index)
    return where


def edit(repo, name: str, constraint: str) -> None:
    """Add a dependency to pyproject.toml without relocking: the lock is now stale."""
    repo.write("pyproject.toml", set_dependency_text(repo.read("pyproject.toml"), name, constraint))


def test_session_writes_the_same_lock_as_plain_poetry(make_single_project, poetry, tmp_path):
    repo = make_single_project({"requests": "^2.30"})
    edit(repo, "click", "^8.1")
    plain, served = tmp_path / "plain", tmp_path / "served"
    for dest in (plain, served):
        shutil.copytree(repo.path, dest, ignore=shutil.ignore_patterns(".git"))
    p = lockfix_poetry(poetry)
    assert p.interpreter is not None  # .tools' Poetry is a standard entry point
    p.relock(plain, env=poetry.env)
    with p.session(poetry.env) as session:
        first = session.relock(served)
        (served / "poetry.lock").write_text((repo.path / "poetry.lock").read_text())
        second = session.relock(served)  # a second relock through the same started Poetry
        assert session.preloaded
    assert (served / "poetry.lock").read_text() == (plain / "poetry.lock").read_text()
    assert 'name = "click"' in (served / "poetry.lock").read_text()
    assert first.seconds > 0 and second.seconds > 0


def test_session_reports_poetrys_own_error(tmp_path, poetry, index):
    app = new_project(tmp_path / "app", poetry, {"requests": "^99"}, index)
    with lockfix_poetry(poetry).session(poetry.env) as session, pytest.raises(PoetryError) as err:
        session.relock(app, timeout=120)
    assert "could not lock" in str(err.value)
    assert "requests" in str(err.value)  # Poetry's own words about the unsolvable constraint


def test_timeout_kills_the_relock_and_everything_it_started(tmp_path, poetry, stalled_index):
    app = new_project(tmp_path / "app", poetry, {"requests": "^2.30"}, stalled_index)
    with lockfix_poetry(poetry).session(poetry.env) as session:
        assert session.preloaded
        started = time.monotonic()
        with pytest.raises(PoetryError, match="did not finish locking"):
            session.relock(app, timeout=3)
        assert time.monotonic() - started < 15
        assert wait_until(lambda: not processes_in(app), 10)


def test_a_relock_given_up_before_poetry_started_never_runs(tmp_path, poetry, index):
    """Timed out while the server was still importing Poetry: the queued relock must not
    start later and write a lock into a tree lockfix has already put back."""
    app = new_project(tmp_path / "app", poetry, {"requests": "^2.30"}, index)
    with lockfix_poetry(poetry).session(poetry.env) as session:
        with pytest.raises(PoetryError, match="did not finish locking"):
            session.relock(app, timeout=0.01)
        time.sleep(3)  # a relock of this project takes well under a second
        assert not (app / "poetry.lock").exists()
        assert not processes_in(app)


def test_server_gone_means_plain_poetry_processes(make_single_project, poetry):
    repo = make_single_project({"requests": "^2.30"})
    edit(repo, "attrs", "^23.1")
    with lockfix_poetry(poetry).session(poetry.env) as session:
        proc = session._proc
        assert proc is not None
        proc.kill()
        proc.wait()
        session.relock(repo.path, timeout=120)
        assert not session.preloaded
    assert 'name = "attrs"' in repo.read("poetry.lock")


def test_disabled_by_environment(poetry):
    p = lockfix_poetry(poetry)
    with p.session({**poetry.env, "LOCKFIX_POETRY_SERVER": "0"}) as session:
        assert not session.preloaded


def test_a_wrapper_script_is_run_as_a_process(tmp_path, poetry):
    wrapper = tmp_path / "poetry"
    wrapper.write_text(f'#!/bin/sh\nexec "{poetry.path}" "$@"\n')
    wrapper.chmod(0o755)
    p = find_poetry(str(wrapper), env=poetry.env, cache_dir=tmp_path / "cache")
    assert p.interpreter is None and p.version == poetry.version
    with p.session(poetry.env) as session:
        assert not session.preloaded


def test_no_poetry_survives_a_killed_lockfix(tmp_path, poetry, stalled_index):
    """SIGKILL leaves lockfix no chance to clean up: the server sees its input close and
    kills the relock, which would otherwise write into the working tree later."""
    app = new_project(tmp_path / "app", poetry, {"requests": "^2.30"}, stalled_index)
    script = textwrap.dedent(f"""
        from pathlib import Path
        from lockfix.backends.poetry.tool import find_poetry
        p = find_poetry({str(poetry.path)!r})
        with p.session() as session:
            session.relock(Path({str(app)!r}), timeout=600)
    """)
    client = subprocess.Popen([sys.executable, "-c", script], env=poetry.env)
    try:
        assert wait_until(lambda: bool(processes_in(app)), 30), "the relock never started"
    finally:
        os.kill(client.pid, signal.SIGKILL)
        client.wait()
    assert wait_until(lambda: not processes_in(app), 10), processes_in(app)
