"""The driver calls' side of a shared merge (lockfix.batch): what makes a result theirs."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

import pytest

from lockfix import batch


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    env = {k: v for k, v in env.items() if k not in ("GIT_DIR", "GIT_WORK_TREE")}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("GIT_DIR", raising=False)
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.txt").write_text("a\n")
    git(root, "add", "a.txt")
    git(root, "commit", "-qm", "one")
    return root


def test_parse_argv_keeps_flags_apart():
    positional, flags = batch.parse_argv(
        ["--lock-policy", "drop", "O", "A", "B", "7", "p/poetry.lock", "--manifest-policy=ours"])
    assert positional == ["O", "A", "B", "7", "p/poetry.lock"]
    assert flags == {"lock_policy": "drop", "manifest_policy": "ours"}


def test_blob_id_is_gits(repo: Path):
    data = b"hello\x00world\n"
    (repo / "blob").write_bytes(data)
    assert batch.blob_id(data, "sha1") == git(repo, "hash-object", "blob")


def test_head_and_git_dir_read_from_disk(repo: Path, tmp_path: Path):
    gitdir = batch.git_dir(str(repo))
    assert gitdir == str(repo / ".git")
    assert batch.head(gitdir) == git(repo, "rev-parse", "HEAD")
    git(repo, "pack-refs", "--all")  # refs/heads/main now only in packed-refs
    assert not (repo / ".git/refs/heads/main").exists()
    assert batch.head(gitdir) == git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--detach")
    assert batch.head(gitdir) == git(repo, "rev-parse", "HEAD")
    # a linked worktree: .git is a file, refs live in the common dir
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "other", str(wt))
    (wt / "b.txt").write_text("b\n")
    git(wt, "add", "b.txt")
    git(wt, "commit", "-qm", "two")
    wt_gitdir = batch.git_dir(str(wt))
    assert wt_gitdir is not None and Path(wt_gitdir).resolve() == Path(
        git(wt, "rev-parse", "--absolute-git-dir")).resolve()
    assert batch.head(wt_gitdir) == git(wt, "rev-parse", "HEAD")


def test_trace_tells_rebase_steps_apart(repo: Path):
    gitdir = str(repo / ".git")
    plain = batch.trace(gitdir)
    (repo / ".git/rebase-merge").mkdir()
    (repo / ".git/rebase-merge/done").write_text("pick 1111111 one\n")
    first = batch.trace(gitdir)
    (repo / ".git/rebase-merge/done").write_text("pick 1111111 one\npick 2222222 two\n")
    assert len({plain, first, batch.trace(gitdir)}) == 3


def test_context_follows_flags_settings_and_environment(repo: Path, monkeypatch):
    base = batch.context_id({}, str(repo))
    assert batch.context_id({"lock_policy": None}, str(repo)) == base
    assert batch.context_id({"lock_policy": "drop"}, str(repo)) != base
    monkeypatch.setenv("LOCKFIX_POETRY", "/elsewhere/poetry")
    with_env = batch.context_id({}, str(repo))
    assert with_env != base
    (repo / "pyproject.toml").write_text("[tool.lockfix]\nlock-policy = 'drop'\n")
    assert batch.context_id({}, str(repo)) != with_env


def test_octopus_merges_are_never_shared(repo: Path, monkeypatch):
    monkeypatch.setenv("GITHEAD_" + "a" * 40, "one")
    assert batch.merge_identity(str(repo / ".git")) is not None
    monkeypatch.setenv("GITHEAD_" + "b" * 40, "two")
    assert batch.merge_identity(str(repo / ".git")) is None


def _publish(repo: Path, sides: tuple[bytes, bytes, bytes], kind: str,
             identity: dict[str, object] | None) -> Path:
    work = repo / ".git" / "lockfix"
    directory = work / "batch-test"
    (directory / batch.RESULTS).mkdir(parents=True)
    key = ["pkg/" + ("poetry.lock" if kind == "lock" else "pyproject.toml"),
           *(batch.blob_id(s, "sha1") if s else None for s in sides)]
    spec = {"context": batch.context_id({}, str(repo)), "algo": "sha1",
            "identity": identity, "jobs": [{"key": ["other", None, "x", "y"], "kind": "lock"},
                                           {"key": key, "kind": kind}]}
    batch.write(str(directory / batch.SPEC), spec)
    return directory


def test_find_needs_the_same_sides_context_and_for_locks_the_same_merge(repo: Path):
    gitdir = str(repo / ".git")
    work = os.path.join(gitdir, "lockfix")
    sides = (b"base\n", b"ours\n", b"theirs\n")
    identity = batch.merge_identity(gitdir)
    _publish(repo, sides, "lock", identity)
    found = batch.find(work, str(repo), "pkg/poetry.lock", sides, {})
    assert found is not None and found[1] == 1
    assert batch.find(work, str(repo), "pkg/poetry.lock", (b"", b"ours\n", b"theirs\n"), {}) is None
    assert batch.find(work, str(repo), "pkg/poetry.lock", sides, {"lock_policy": "drop"}) is None
    # another merge (HEAD moved on): the lock's other manifests may differ
    spec = batch.read(str(Path(work) / "batch-test" / batch.SPEC))
    assert isinstance(spec, dict) and identity is not None
    spec["identity"] = {**identity, "head": "0" * 40}
    batch.write(str(Path(work) / "batch-test" / batch.SPEC), spec)
    assert batch.find(work, str(repo), "pkg/poetry.lock", sides, {}) is None


def test_find_takes_a_manifest_from_any_merge_with_the_same_sides(repo: Path):
    sides = (b"base\n", b"ours\n", b"theirs\n")
    _publish(repo, sides, "manifest", {"head": "elsewhere"})
    work = str(repo / ".git" / "lockfix")
    assert batch.find(work, str(repo), "pkg/pyproject.toml", sides, {}) is not None


def test_wait_takes_the_result_or_notices_a_dead_worker(repo: Path):
    directory = _publish(repo, (b"b", b"o", b"t"), "lock", None)
    fd = os.open(directory / batch.LOCK, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a live worker holds this
    try:
        assert batch.alive(str(directory))
        batch.write(str(directory / batch.RESULTS / f"1{batch.RESULT}"), {"text": "merged"})
        assert batch.wait(str(directory), 1) == {"text": "merged"}
        assert not (directory / batch.RESULTS / f"1{batch.RESULT}").exists()  # taken
    finally:
        os.close(fd)
    assert not batch.alive(str(directory))
    assert batch.wait(str(directory), 0) is None  # gone without a result
