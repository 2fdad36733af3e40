"""How lockfix names the sides git merges, in real git operations (git only, no Poetry).

A probe merge driver records what :meth:`Git.merging_commits` answers from inside the
running operation, as lockfix's own driver would; the answers are then checked against
what git itself knows once it has stopped (index stages, history)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from lockfix.git import Git
from tests.support.repos import GitRepo

PROBE = """
import json, sys
from pathlib import Path
from lockfix.git import Git
base, ours, theirs, path, out = sys.argv[1:]
git = Git(Path.cwd())
blob = lambda p: git.hash_blob(Path(p).read_bytes()) if Path(p).read_bytes() else None
found = git.merging_commits({}, path, blob(base), blob(ours), blob(theirs))
with open(out, "a") as f:
    f.write(json.dumps([path, found]) + "\\n")
sys.exit(1)  # leave the conflict: the test reads git's own stages afterwards
"""


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    env = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    repo = GitRepo.init(tmp_path / "repo", env)
    repo.write("lock", "a\nb\nc\n")
    repo.write("keep", "untouched\n")
    repo.commit_all("init")
    return repo


def probe(repo: GitRepo, tmp_path: Path) -> Path:
    """Route ``lock`` to the probe driver (in this clone only); returns its output file."""
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    out = tmp_path / "found.jsonl"
    cmd = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} %O %A %B %P {shlex.quote(str(out))}"
    repo.git("config", "merge.probe.driver", cmd)
    info = repo.path / ".git" / "info"
    info.mkdir(exist_ok=True)
    (info / "attributes").write_text("lock merge=probe\n")
    src = str(Path(__file__).resolve().parents[1] / "src")
    repo.env = {**repo.env, "PYTHONPATH": src}
    return out


def found(out: Path) -> list[list[object]]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_revert_in_a_fresh_clone_is_named_from_history(repo: GitRepo, tmp_path: Path) -> None:
    repo.write("lock", "a\nb\nc\nd\n")
    reverted = repo.commit_all("add d")
    repo.write("lock", "a\nb\nc\nd\ne\n")
    repo.commit_all("add e")
    clone = GitRepo(tmp_path / "clone", repo.env)
    repo.git("clone", "-q", str(repo.path), str(clone.path))
    out = probe(clone, tmp_path)
    assert clone.git("revert", "--no-edit", reverted, check=False).returncode != 0
    [[path, sides]] = found(out)
    assert path == "lock"
    assert sides == [reverted, clone.head("HEAD"), clone.head(f"{reverted}^"), "revert"]


def test_revert_of_several_commits_names_each(repo: GitRepo, tmp_path: Path) -> None:
    """``git revert A B``: the sequencer's todo names the next commit, also as a revert."""
    shas = []
    for line in ("d", "e"):
        repo.write("lock", repo.read("lock") + f"{line}\n")
        shas.append(repo.commit_all(f"add {line}"))
    repo.write("lock", repo.read("lock") + "f\n")
    repo.commit_all("add f")
    out = probe(repo, tmp_path)
    assert repo.git("revert", "--no-edit", shas[1], shas[0], check=False).returncode != 0
    [[_, sides]] = found(out)
    assert sides == [shas[1], repo.head("HEAD"), shas[0], "revert"]


def test_am_three_way_sides_are_the_trees_git_merges(repo: GitRepo, tmp_path: Path) -> None:
    """A patch from another clone that changes ``lock``, creates ``new`` and deletes
    ``gone``: base and theirs are rebuilt over HEAD, exactly as git merged them."""
    repo.write("gone", "bye\n")
    repo.commit_all("gone")
    other = GitRepo(tmp_path / "other", repo.env)
    repo.git("clone", "-q", str(repo.path), str(other.path))
    other.write("lock", "a\nb\nc\ntheirs\n")
    other.write("new", "hello\n")
    other.git("rm", "-q", "gone")
    other.commit_all("theirs")
    other.git("format-patch", "-q", "-1", "-o", str(tmp_path / "patches"))
    [patch] = (tmp_path / "patches").iterdir()
    repo.write("lock", "a\nb\nc\nours\n")
    repo.write("keep", "changed here\n")
    repo.commit_all("ours")
    out = probe(repo, tmp_path)

    assert repo.git("am", "-3", str(patch), check=False).returncode != 0
    [[_, sides]] = found(out)
    assert isinstance(sides, list)
    base, ours, theirs, how = sides
    assert (ours, how) == (repo.head("HEAD"), "am")
    # the conflicted file: exactly git's own stages
    assert repo.show(base, "lock") == repo.stage(1, "lock")
    assert repo.show(theirs, "lock") == repo.stage(3, "lock") == "a\nb\nc\ntheirs\n"
    # the rest: as HEAD where the patch does not touch it, created/deleted where it does
    assert repo.show(base, "keep") == repo.show(theirs, "keep") == "changed here\n"
    assert repo.git("cat-file", "-e", f"{base}:new", check=False).returncode != 0
    assert repo.show(theirs, "new") == "hello\n"
    assert repo.show(base, "gone") == "bye\n"
    assert repo.git("cat-file", "-e", f"{theirs}:gone", check=False).returncode != 0
    # lockfix run's view of the stopped am: the same sides, and the command to go on
    git = Git(repo.path)
    op = git.operation()
    assert op is not None and op.kind == "am"
    assert git.operation_sides(op) == (base, ours, theirs)
    assert repo.status() == "D  gone\nUU lock\nA  new\n"  # git's index, untouched by all this


def test_revert_of_a_merge_names_the_merge(repo: GitRepo, tmp_path: Path) -> None:
    """``git revert -m 1 <merge>`` of a merge that took ``lock`` from its branch: the
    base is the merge itself, not the branch commit that holds the same blob."""
    repo.branch("topic")
    repo.checkout("topic")
    repo.write("lock", "a\nb\nc\ntopic\n")
    repo.commit_all("topic")
    repo.checkout("main")
    repo.write("keep", "main moved on\n")
    repo.commit_all("main")
    repo.git("merge", "--no-ff", "--no-edit", "topic")
    merge = repo.head()
    repo.write("lock", "a\nb\nc\ntopic\nlater\n")
    repo.commit_all("later")
    out = probe(repo, tmp_path)
    assert repo.git("revert", "--no-edit", "-m", "1", merge, check=False).returncode != 0
    [[_, sides]] = found(out)
    assert sides == [merge, repo.head("HEAD"), repo.head(f"{merge}^1"), "revert"]
