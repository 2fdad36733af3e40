"""`lockfix check` on a monorepo migrating from Poetry to uv: one gate for both, with no
Poetry, no uv and no network. Locks are made by real Poetry and real uv (both lines),
then each package gets one defect of its own kind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lockfix.localindex import PackageIndex
from tests.support.poetry import PoetryExe
from tests.support.repos import GitRepo, pyproject_text
from tests.support.uv import UvExe

pytestmark = pytest.mark.e2e


def uv_project(name: str, deps: list[str], sources: str = "") -> str:
    listed = "".join(f'    "{d}",\n' for d in deps)
    text = (f'[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = ">=3.9"\n'
            f"dependencies = [\n{listed}]\n\n[tool.uv]\n")
    return text + (f"\n[tool.uv.sources]\n{sources}" if sources else "")


def check_without_tools(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command line with neither Poetry nor uv reachable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POETRY", "LOCKFIX", "UV_"))}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep)
        if not ((Path(p) / "poetry").exists() or (Path(p) / "uv").exists()))
    return subprocess.run([sys.executable, "-m", "lockfix", "check", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def build(tmp_path: Path, poetry: PoetryExe, uv: UvExe, index: PackageIndex) -> GitRepo:
    repo = GitRepo.init(tmp_path / "repo", {**poetry.env, **uv.env})
    files = {
        # Poetry side of the migration
        "legacy/app/pyproject.toml": pyproject_text("app", {"requests": "^2.30"}, index_url=index.url),
        "legacy/stale/pyproject.toml": pyproject_text("stale", {"click": "^8.1"}, index_url=index.url),
        # uv side: a clean project, one per defect, a path-dependent pair, a workspace
        "uv/clean/pyproject.toml": uv_project("clean", ["requests>=2.30"]),
        "uv/markers/pyproject.toml": uv_project("markers", ["attrs>=23"]),
        "uv/invalid/pyproject.toml": uv_project("invalid", ["six>=1.16"]),
        "uv/stale/pyproject.toml": uv_project("stale-uv", ["click>=8"]),
        "uv/core/pyproject.toml": uv_project("core", ["idna>=3"]),
        "uv/api/pyproject.toml": uv_project(
            "api", ["core"], 'core = { path = "../core", editable = true }\n'),
        "uv/nolock/pyproject.toml": uv_project("nolock", ["six>=1.16"]),
    }
    for rel, text in files.items():
        repo.write(rel, text)
    for d in ("legacy/app", "legacy/stale"):
        poetry.lock(repo.path / d)
    for d in ("uv/clean", "uv/markers", "uv/invalid", "uv/stale", "uv/core", "uv/api"):
        uv.lock(repo.path / d)
    repo.commit_all("locked")
    return repo


def break_each(repo: GitRepo) -> None:
    # Poetry: a stale content-hash
    text = repo.read("legacy/stale/pyproject.toml")
    repo.write("legacy/stale/pyproject.toml", text.replace('click = "^8.1"', 'click = "^8.1"\nsix = "^1.16"'))
    # uv: conflict markers committed in a lock
    lock = repo.read("uv/markers/uv.lock")
    repo.write("uv/markers/uv.lock", lock.replace(
        "[[package]]", "<<<<<<< HEAD\n[[package]]\n=======\n[[package]]\n>>>>>>> feature", 1))
    # uv: a lock that is not TOML
    repo.write("uv/invalid/uv.lock", repo.read("uv/invalid/uv.lock") + "\n[[package]\n")
    # uv: a stale lock (a dependency added without relocking)
    repo.write("uv/stale/pyproject.toml",
               repo.read("uv/stale/pyproject.toml").replace('"click>=8",', '"click>=8",\n    "six>=1.16",'))
    # uv: path drift (core's dependencies changed; api's lock records the old ones)
    repo.write("uv/core/pyproject.toml",
               repo.read("uv/core/pyproject.toml").replace('"idna>=3",', '"idna>=3",\n    "attrs>=23",'))
    repo.commit_all("one defect of each kind")


def test_mixed_monorepo_one_defect_of_each_kind(tmp_path, poetry, uv, index, monkeypatch):
    repo = build(tmp_path, poetry, uv, index)
    clean = check_without_tools(repo.path)
    assert clean.returncode == 0 and "uv/nolock" in clean.stdout  # a warning: the missing lock
    assert "declares dependencies but has no uv.lock" in clean.stdout
    assert clean.stdout.count(": error:") == 0
    assert check_without_tools(repo.path, "--strict").returncode == 1
    break_each(repo)
    proc = check_without_tools(repo.path, "--format", "json")
    import json

    report = json.loads(proc.stdout)
    assert proc.returncode == 1
    found = {(f["kind"], f["file"], f["manager"]) for f in report["findings"]}
    assert ("stale-lock", "legacy/stale/poetry.lock", "poetry") in found
    assert ("conflict-marker", "uv/markers/uv.lock", "uv") in found
    assert ("invalid-toml", "uv/invalid/uv.lock", "uv") in found
    assert ("stale-lock", "uv/stale/uv.lock", "uv") in found
    assert ("stale-lock", "uv/core/uv.lock", "uv") in found  # core's own lock is stale too
    assert ("stale-lock", "uv/api/uv.lock", "uv") in found   # drift through the path dependency
    assert ("missing-lock", "uv/nolock/pyproject.toml", "uv") in found
    untouched = {"legacy/app/poetry.lock", "uv/clean/uv.lock"}
    assert not any(f["file"] in untouched for f in report["findings"])
    drift = next(f for f in report["findings"] if f["file"] == "uv/api/uv.lock")
    assert "core" in drift["message"] and drift["fix"] == "lockfix run uv/api"
    github = check_without_tools(repo.path, "--format", "github")
    assert "::error file=uv/api/uv.lock,title=lockfix stale-lock::" in github.stdout
    assert "::warning file=uv/nolock/pyproject.toml" in github.stdout
    # pre-commit passes the staged files: a changed core manifest also fails api's lock
    staged = check_without_tools(repo.path, "uv/core/pyproject.toml", "--format", "json")
    files = {f["file"] for f in json.loads(staged.stdout)["findings"]}
    assert {"uv/core/uv.lock", "uv/api/uv.lock"} <= files and "uv/stale/uv.lock" not in files
    # a large monorepo's locks are judged in forked processes: the same findings
    from lockfix.commands import check as check_module

    serial = check_module.run_checks([], cwd=repo.path)
    monkeypatch.setattr(check_module, "_PARALLEL_LOCKS", 1)
    forked = check_module.run_checks([], cwd=repo.path)
    assert forked.findings == serial.findings and len(serial.findings) >= 8


def test_verdicts_agree_with_uv_lock_check(tmp_path, poetry, uv, index):
    """Every uv lock lockfix calls stale, real `uv lock --check` calls stale, and back."""
    repo = build(tmp_path, poetry, uv, index)
    break_each(repo)
    import json

    report = json.loads(check_without_tools(repo.path, "--format", "json").stdout)
    stale = {f["package"] for f in report["findings"] if f["kind"] == "stale-lock" and f["manager"] == "uv"}
    for d in ("uv/clean", "uv/stale", "uv/core", "uv/api"):
        verdict = uv.check_lock(repo.path / d).returncode != 0
        assert verdict == (d in stale), (d, verdict, stale)
