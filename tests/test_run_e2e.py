"""`lockfix run` end to end: real git, real Poetry (1.8 and 2.x), the local index."""

from __future__ import annotations

import pytest

from tests.support.lockfix import lockfix
from tests.support.repos import (
    API_GATEWAY,
    BACKGROUND_WORKER,
    CORE,
    GitRepo,
    add_dependency,
    diverge,
    diverge_with_broken_theirs,
    locked_versions,
    relock,
    set_dependency_text,
    update_dependency,
)

pytestmark = pytest.mark.e2e


def snapshot(repo: GitRepo, *paths: str) -> dict[str, bytes]:
    return {p: (repo.path / p).read_bytes() for p in paths}


def never_text_merge_locks(repo: GitRepo) -> None:
    """``poetry.lock -merge``: a setting real teams use so git never text-merges locks. git
    then stops with index stages whenever both sides changed a lock, even where a line
    merge would have been "clean" (and not necessarily correct)."""
    (repo.path / ".git" / "info").mkdir(exist_ok=True)
    (repo.path / ".git" / "info" / "attributes").write_text("poetry.lock -merge\n")


def test_adjacent_additions_merge_and_nothing_else_upgrades(make_single_project, poetry, index):
    repo = make_single_project({"requests": "^2.30"})
    before = locked_versions(repo.path / "poetry.lock")
    diverge(repo, poetry, ("attrs", "^23.1"), ("click", "^8.1"))
    # newer releases appear meanwhile: a correct relock must not pick them up
    index.add("requests", "2.32.0", ["urllib3>=1.21,<3", "idna>=2.5,<4", "certifi>=2017.4.17"])
    index.add("idna", "3.7")

    assert repo.merge("feature").returncode != 0
    assert repo.unmerged() == ["poetry.lock", "pyproject.toml"]

    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fixed" in proc.stdout and "git commit" in proc.stdout
    assert repo.unmerged() == []
    repo.git("commit", "--no-edit")

    text = repo.read("pyproject.toml")
    assert 'attrs = "^23.1"' in text and 'click = "^8.1"' in text
    assert not repo.has_conflict_markers("pyproject.toml")
    assert poetry.check_lock(repo.path).returncode == 0
    after = locked_versions(repo.path / "poetry.lock")
    assert {"attrs", "click"} <= after.keys()
    for name in ("requests", "idna", "urllib3", "certifi"):
        assert after[name] == before[name], name
    assert repo.is_clean()


def test_lock_only_bump_and_new_dependency_both_survive(make_single_project, poetry, index):
    repo = make_single_project({"requests": "^2.30"})
    never_text_merge_locks(repo)
    assert locked_versions(repo.path / "poetry.lock")["certifi"] == "2023.7.22"
    index.add("certifi", "2023.11.17")
    repo.branch("feature")
    update_dependency(repo, ".", "certifi", poetry, commit="bump certifi")  # lock only
    repo.checkout("feature")
    add_dependency(repo, ".", "click", "^8.1", poetry, commit="add click")
    repo.checkout("main")

    assert repo.merge("feature").returncode != 0
    assert repo.unmerged() == ["poetry.lock"]
    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    repo.git("commit", "--no-edit")

    versions = locked_versions(repo.path / "poetry.lock")
    assert versions["certifi"] == "2023.11.17"
    assert versions["click"] == "8.1.7"
    assert poetry.check_lock(repo.path).returncode == 0


def test_monorepo_dependent_lock_gets_both_sides(make_monorepo, poetry, index):
    repo = make_monorepo()
    never_text_merge_locks(repo)
    repo.branch("feature")
    add_dependency(repo, API_GATEWAY, "structlog", "^23.2", poetry, commit="gateway: structlog")
    repo.checkout("feature")
    add_dependency(repo, CORE, "attrs", "^23.1", poetry, commit="core: attrs")  # relocks dependents
    repo.checkout("main")

    assert repo.merge("feature").returncode != 0
    assert repo.unmerged() == [f"{API_GATEWAY}/poetry.lock"]

    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    repo.git("commit", "--no-edit")

    gateway = locked_versions(repo.path / API_GATEWAY / "poetry.lock")
    assert {"structlog", "attrs", "core", "fastapi"} <= gateway.keys()
    for pkg in (CORE, API_GATEWAY, BACKGROUND_WORKER):
        assert poetry.check_lock(repo.path / pkg).returncode == 0, pkg
    lock_text = repo.read(f"{API_GATEWAY}/poetry.lock")
    core_entry = lock_text.split('name = "core"', 1)[1].split("[[package]]", 1)[0]
    assert "attrs" in core_entry  # the recorded path dependency reflects core's merged deps


def test_lock_committed_with_markers_is_repaired_without_stages(make_single_project, poetry):
    repo = make_single_project({"requests": "^2.30"})
    diverge(repo, poetry, ("attrs", "^23.1"), ("click", "^8.1"))
    repo.merge("feature")
    repo.commit_all("merge, conflicts committed as they were")  # it happens
    assert repo.has_conflict_markers("poetry.lock") and repo.unmerged() == []

    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "markers" in proc.stdout
    assert not repo.has_conflict_markers("poetry.lock")
    assert not repo.has_conflict_markers("pyproject.toml")
    assert {"attrs", "click"} <= locked_versions(repo.path / "poetry.lock").keys()
    assert poetry.check_lock(repo.path).returncode == 0


def test_rebase_then_continue(make_single_project, poetry):
    repo = make_single_project({"requests": "^2.30"})
    repo.branch("feature")
    add_dependency(repo, ".", "attrs", "^23.1", poetry, commit="add attrs")
    repo.checkout("feature")
    add_dependency(repo, ".", "click", "^8.1", poetry, commit="add click")

    assert repo.git("rebase", "main", check=False).returncode != 0
    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "git rebase --continue" in proc.stdout
    repo.git("-c", "core.editor=true", "rebase", "--continue")
    assert repo.current_branch() == "feature"
    assert {"attrs", "click"} <= locked_versions(repo.path / "poetry.lock").keys()
    assert poetry.check_lock(repo.path).returncode == 0


def test_stale_lock_is_relocked_and_dry_run_changes_nothing(make_single_project, poetry):
    repo = make_single_project({"requests": "^2.30"})
    text = repo.read("pyproject.toml").replace('requests = "^2.30"', 'requests = "^2.30"\nsix = "^1.16"')
    repo.write("pyproject.toml", text)
    repo.commit_all("add six, forgot to lock")
    before = snapshot(repo, "pyproject.toml", "poetry.lock")

    dry = lockfix("run", "--dry-run", cwd=repo.path, poetry=poetry)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "stale" in dry.stdout
    assert snapshot(repo, "pyproject.toml", "poetry.lock") == before

    proc = lockfix("run", "--no-stage", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "six" in locked_versions(repo.path / "poetry.lock")
    assert repo.git("diff", "--cached", "--name-only").stdout == ""  # --no-stage
    again = lockfix("run", cwd=repo.path, poetry=poetry)
    assert again.returncode == 0 and "nothing to do" in again.stdout


# -- failure paths: one clear message, exit 1, files exactly as git left them -------------


def _conflicted(repo: GitRepo, poetry, ours, theirs) -> dict[str, bytes]:
    diverge(repo, poetry, ours, theirs)
    assert repo.merge("feature").returncode != 0
    return snapshot(repo, "pyproject.toml", "poetry.lock")


def test_unsolvable_merge_leaves_conflict_untouched(make_single_project, poetry, index):
    index.add("clickplugin", "1.0.0", ["click==8.1.7"])
    repo = make_single_project({"requests": "^2.30"})
    before = _conflicted(repo, poetry, ("click", "8.1.6"), ("clickplugin", "^1.0"))

    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 1
    assert "could not lock" in proc.stderr and "click" in proc.stderr
    assert "left as they were" in proc.stderr
    assert snapshot(repo, "pyproject.toml", "poetry.lock") == before
    assert repo.unmerged() == ["poetry.lock", "pyproject.toml"]


def test_malformed_side_is_named_and_nothing_changes(make_single_project, poetry):
    repo = make_single_project({"requests": "^2.30"})
    diverge_with_broken_theirs(repo, poetry)
    assert repo.merge("feature").returncode != 0
    before = snapshot(repo, "pyproject.toml", "poetry.lock")

    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 1
    assert "pyproject.toml (theirs)" in proc.stderr and "not valid TOML" in proc.stderr
    assert snapshot(repo, "pyproject.toml", "poetry.lock") == before


def test_poetry_missing(make_single_project, poetry, tmp_path):
    repo = make_single_project({"requests": "^2.30"})
    before = _conflicted(repo, poetry, ("attrs", "^23.1"), ("click", "^8.1"))
    proc = lockfix("run", cwd=repo.path, poetry=poetry,
                   extra_env={"LOCKFIX_POETRY": str(tmp_path / "no-such-poetry")})
    assert proc.returncode == 1
    assert "Poetry not found" in proc.stderr and "LOCKFIX_POETRY" in proc.stderr
    assert snapshot(repo, "pyproject.toml", "poetry.lock") == before
    assert repo.unmerged() == ["poetry.lock", "pyproject.toml"]


def test_usage_error_exit_2(make_single_project, poetry):
    repo = make_single_project({"requests": "^2.30"})
    proc = lockfix("run", "--lock-policy", "nonsense", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 2


def test_no_temp_files_left(make_single_project, poetry):
    repo = make_single_project({"requests": "^2.30"})
    listing = sorted(p.name for p in repo.path.iterdir())
    _conflicted(repo, poetry, ("attrs", "^23.1"), ("click", "^8.1"))
    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stderr
    repo.git("commit", "--no-edit")
    assert repo.git("status", "--porcelain", "--ignored").stdout == ""
    assert sorted(p.name for p in repo.path.iterdir()) == listing


def test_path_dependency_drift_relocks_dependents(make_monorepo, poetry):
    """core gains a dependency and only core is relocked (as happens after a server-side
    merge): the dependents' locks still record the old core, although their own
    content-hash is fine. lockfix run relocks them, in order."""
    repo = make_monorepo()
    path = f"{CORE}/pyproject.toml"
    repo.write(path, set_dependency_text(repo.read(path), "attrs", "^23.1"))
    relock(repo, CORE, poetry, with_dependents=False)
    repo.commit_all("core: attrs (dependents not relocked)")
    assert poetry.check_lock(repo.path / API_GATEWAY).returncode == 0  # Poetry does not see it

    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "path dependency core" in proc.stdout
    for pkg in (API_GATEWAY, BACKGROUND_WORKER):
        assert "attrs" in locked_versions(repo.path / pkg / "poetry.lock"), pkg
    assert "nothing to do" in lockfix("run", cwd=repo.path, poetry=poetry).stdout


def test_clean_text_merge_into_invalid_toml_is_redone_from_commits(make_single_project, poetry):
    """Both sides add [tool.pytest.ini_options] in different places: git's line merge
    of pyproject.toml is "clean" and holds the table twice (invalid TOML). lockfix run
    redoes that merge at the TOML level from HEAD, MERGE_HEAD and their merge base."""
    repo = make_single_project({"requests": "^2.30"})
    table = '[tool.pytest.ini_options]\naddopts = "-q"\n\n'
    repo.branch("feature")
    add_dependency(repo, ".", "attrs", "^23.1", poetry)
    repo.write("pyproject.toml", table + repo.read("pyproject.toml"))
    repo.commit_all("attrs, pytest options at the top")
    repo.checkout("feature")
    add_dependency(repo, ".", "click", "^8.1", poetry, group="dev")  # away from attrs' line
    repo.write("pyproject.toml", repo.read("pyproject.toml") + "\n" + table)
    repo.commit_all("click, pytest options at the end")
    repo.checkout("main")
    assert repo.merge("feature").returncode != 0
    assert repo.unmerged() == ["poetry.lock"]
    assert repo.read("pyproject.toml").count("[tool.pytest.ini_options]") == 2  # "clean"

    proc = lockfix("run", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pyproject.toml conflicted (commits)" in proc.stdout
    text = repo.read("pyproject.toml")
    assert text.count("[tool.pytest.ini_options]") == 1
    assert 'attrs = "^23.1"' in text and 'click = "^8.1"' in text
    repo.git("commit", "--no-edit")
    assert poetry.check_lock(repo.path).returncode == 0
