"""`lockfix check`: every finding type end to end in real git repositories, the marker
scan against git grep, the fast lock reader against tomllib, and native freshness
against real `poetry check --lock` (Poetry 1.8 and 2.x) on a matrix of projects."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockfix.backends.poetry.freshness import content_hash
from lockfix.backends.poetry.lock import directory_dependencies
from lockfix.backends.poetry.lockscan import read_lock
from lockfix.commands.check import check
from lockfix.errors import LockfixError, MalformedToml
from lockfix.markers import find_markers, git_grep_pattern
from lockfix.toml import load_toml
from tests.support.mutate import mutate
from tests.support.poetry import PoetryExe, discover_poetries, isolated_env, version_of
from tests.support.repos import (
    API_GATEWAY,
    BACKGROUND_WORKER,
    CORE,
    GitRepo,
    add_dependency,
    set_dependency_text,
)

DATA = Path(__file__).parent / "data" / "locks"


# ---------------------------------------------------------------------------------------
# helpers


def git_repo(path: Path, files: Mapping[str, str | bytes]) -> GitRepo:
    """A committed repository holding ``files`` (no Poetry involved)."""
    repo = GitRepo.init(path, isolated_env(path.parent / f"{path.name}-home"))
    for rel, content in files.items():
        target = repo.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    repo.commit_all("files")
    return repo


def run_check(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command line, in a subprocess, with no Poetry anywhere on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POETRY", "LOCKFIX"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not (Path(p) / "poetry").exists())
    return subprocess.run([sys.executable, "-m", "lockfix", "check", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)


def check_json(cwd: Path, *paths: str, lockfiles_only: bool = False,
               strict: bool = False) -> tuple[int, dict[str, Any]]:
    """In process (fast): exit status and the JSON report."""
    out, err = io.StringIO(), io.StringIO()
    code = check(list(paths), cwd=cwd, fmt="json", lockfiles_only=lockfiles_only,
                 strict=strict, out=out, err=err)
    assert code != 2, err.getvalue()
    return code, json.loads(out.getvalue())


def kinds(report: Mapping[str, Any]) -> list[tuple[str, str, int | None]]:
    return [(f["kind"], f["file"], f["line"]) for f in report["findings"]]


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# ---------------------------------------------------------------------------------------
# conflict markers (no Poetry)

MARKER_SAMPLES = [
    "<<<<<<< HEAD", "<<<<<<<", "<<<<<<<\tours", "<<<<<<<x", "<<<<<<<< eight", " <<<<<<< indented",
    "||||||| base", "|||||||", "||||||||", "=======", "======= text", "========", "=======\r",
    ">>>>>>> feature", ">>>>>>>", ">>>>>>>>", ">>>>>>> branch\r", "plain", "<<<<<< six",
]


def test_git_grep_pattern_finds_exactly_the_marker_grammar(tmp_path: Path) -> None:
    text = "\n".join(MARKER_SAMPLES) + "\n"
    repo = git_repo(tmp_path / "r", {"f.txt": text})
    proc = subprocess.run(["git", "grep", "-I", "-n", "-E", "-e", git_grep_pattern()],
                          cwd=repo.path, capture_output=True)
    grep_lines = sorted(int(line.split(b":")[1]) for line in proc.stdout.splitlines())
    assert grep_lines == sorted(h.line for h in find_markers(text))
    assert len(grep_lines) == 10


def test_markers_reported_with_file_and_line_binary_and_headings_skipped(tmp_path: Path) -> None:
    conflicted = "a\n<<<<<<< HEAD\nours\n||||||| base\nbase\n=======\ntheirs\n>>>>>>> b\nz\n"
    repo = git_repo(tmp_path / "r", {
        "docs/guide.rst": "Guide\n=======\n\nText\n",  # a heading, not a conflict
        "src/app.py": conflicted,
        "data/blob.bin": b"\0\1<<<<<<< HEAD\n=======\n>>>>>>> x\n",  # binary for git
        "notes.md": "Title\n=======\n\n<<<<<<< HEAD\nleft over\n",  # both: report both
    })
    code, report = check_json(repo.path)
    assert code == 1
    assert kinds(report) == [
        ("conflict-marker", "notes.md", 2),
        ("conflict-marker", "notes.md", 4),
        ("conflict-marker", "src/app.py", 2),
        ("conflict-marker", "src/app.py", 4),
        ("conflict-marker", "src/app.py", 6),
        ("conflict-marker", "src/app.py", 8),
    ]
    assert report["findings"][2]["details"] == {"marker": "<<<<<<<", "text": "<<<<<<< HEAD"}
    assert report["findings"][2]["fix"] == "resolve the conflict by hand"

    proc = run_check(repo.path)
    assert proc.returncode == 1
    assert "src/app.py:2: error: conflict marker: <<<<<<< HEAD" in proc.stdout
    assert "guide.rst" not in proc.stdout and "blob.bin" not in proc.stdout

    out = io.StringIO()
    assert check([], cwd=repo.path, fmt="sarif", out=out) == 1
    sarif = json.loads(out.getvalue())
    (run,) = sarif["runs"]
    assert sarif["version"] == "2.1.0" and len(run["results"]) == 6
    assert run["results"][2]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "src/app.py"}, "region": {"startLine": 2, "startColumn": 1}}

    # --lockfiles-only and paths restrict the scan
    assert check_json(repo.path, lockfiles_only=True)[0] == 0
    assert [f["file"] for f in check_json(repo.path, "notes.md")[1]["findings"]] == [
        "notes.md", "notes.md"]
    assert check_json(repo.path / "docs", ".")[0] == 0


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r", {"a.txt": "a\n"})
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for cwd, args in ((repo.path, [str(outside)]), (repo.path, ["missing.txt"]), (outside, [])):
        proc = run_check(cwd, *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("lockfix check: ")
    assert run_check(repo.path, "--format", "yaml").returncode == 2


def test_pre_commit_hooks() -> None:
    """Two hooks (staged files, whole repository), both `lockfix check`; the file pattern
    selects exactly pyproject.toml and poetry.lock in any directory."""
    text = (Path(__file__).parents[1] / ".pre-commit-hooks.yaml").read_text()
    hooks = re.split(r"^- id: ", text, flags=re.MULTILINE)[1:]
    by_id = {h.split("\n", 1)[0].strip(): h for h in hooks}
    assert set(by_id) == {"lockfix-check", "lockfix-check-repo"}
    for hook in by_id.values():
        assert "\n  entry: lockfix check\n" in hook and "\n  language: python\n" in hook
    assert "pass_filenames: true" in by_id["lockfix-check"]
    assert "always_run: true" in by_id["lockfix-check-repo"]
    assert "pass_filenames: false" in by_id["lockfix-check-repo"]
    m = re.search(r"^  files: (.+)$", by_id["lockfix-check"], re.MULTILINE)
    assert m is not None
    files = re.compile(m.group(1))
    for path in ("pyproject.toml", "poetry.lock", "packages/core/poetry.lock"):
        assert files.search(path), path
    for path in ("mypyproject.toml", "poetry.lock.orig", "docs/poetry.lock.md"):
        assert not files.search(path), path


# ---------------------------------------------------------------------------------------
# the fast lock reader against tomllib (no Poetry)


def _sample_locks() -> list[str]:
    return [p.read_text() for p in sorted(DATA.glob("*.lock"))]


def _summary(text: str, fast: bool) -> tuple[Any, ...]:
    s = read_lock(text, "poetry.lock", fast=fast)
    return (s.lock.header, s.lock.lock_version, s.lock.content_hash, s.lock.generator,
            s.content_hash_line, s.lock_version_line, s.directory_lines,
            {k: {f: v for f, v in e.items() if f != "files"}  # not read fast
             for k, e in directory_dependencies(s.lock).items()})


def test_fast_reader_matches_the_full_parse_on_real_locks() -> None:
    for text in _sample_locks():
        assert _summary(text, True) == _summary(text, False)
        assert not read_lock(text).complete  # every real layout stays on the fast path
        crlf = text.replace("\n", "\r\n")
        assert _summary(crlf, True) == _summary(crlf, False)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_reader_never_accepts_what_tomllib_rejects(data: st.DataObject) -> None:
    """Soundness of the fast path: on mutated real locks it either agrees with the full
    parse (same data), or the full parse is what raises (the fast path fell back)."""
    text = mutate(data.draw(st.sampled_from(_sample_locks())), data)
    try:
        expected: tuple[Any, ...] | type[Exception] = _summary(text, False)
    except (MalformedToml, LockfixError) as exc:
        expected = type(exc)
    try:
        load_toml(text, "poetry.lock")
        valid = True
    except MalformedToml:
        valid = False
    try:
        got: tuple[Any, ...] | type[Exception] = _summary(text, True)
    except (MalformedToml, LockfixError) as exc:
        got = type(exc)
    assert got == expected
    if not valid:
        assert got is MalformedToml


# ---------------------------------------------------------------------------------------
# end to end with real Poetry (each test runs for Poetry 1.8 and 2.x)

@pytest.mark.e2e
def test_clean_repositories_pass(make_single_project, make_monorepo, poetry) -> None:
    repo = make_single_project({"requests": "^2.30"})
    proc = run_check(repo.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no problems (1 Poetry package" in proc.stdout
    styles = ["poetry", "pep621"] if poetry.major >= 2 else ["poetry"]
    for style in styles:
        mono = make_monorepo(style=style)
        code, report = check_json(mono.path)
        assert (code, report["findings"]) == (0, []), style
        assert report["ok"] and report["summary"]["packages"] == 3


@pytest.mark.e2e
def test_committed_conflict_markers(make_single_project, poetry) -> None:
    repo = make_single_project({"requests": "^2.30"})
    repo.branch("feature")
    add_dependency(repo, ".", "attrs", "^23.1", poetry, commit="add attrs")
    repo.checkout("feature")
    add_dependency(repo, ".", "click", "^8.1", poetry, commit="add click")
    repo.checkout("main")
    assert repo.merge("feature").returncode != 0
    repo.commit_all("merge with the conflicts left in")  # what a hurried hand does

    code, report = check_json(repo.path)
    assert code == 1
    expected = []
    for rel in ("poetry.lock", "pyproject.toml"):
        for hit in find_markers(repo.read(rel)):
            expected.append(("conflict-marker", rel, hit.line))
    assert expected and kinds(report) == expected  # markers only: no TOML noise on top
    assert {f["fix"] for f in report["findings"]} == {"lockfix run ."}

    proc = run_check(repo.path, "--format", "github")
    assert proc.returncode == 1
    first = next(h.line for h in find_markers(repo.read("pyproject.toml")))
    assert f"::error file=pyproject.toml,line={first},col=1,title=lockfix conflict-marker::" \
        in proc.stdout


@pytest.mark.e2e
def test_invalid_toml_reports_line_and_column(make_single_project, poetry) -> None:
    repo = make_single_project({"requests": "^2.30"})
    lock = repo.read("poetry.lock")
    hash_line = next(ln for ln in lock.splitlines() if ln.startswith("content-hash"))
    # a hand resolution that kept both sides' content-hash
    repo.write("poetry.lock", lock.replace(hash_line, hash_line + "\n" + hash_line))
    pyproject = repo.read("pyproject.toml")
    repo.write("pyproject.toml", pyproject.replace('requests = "^2.30"', 'requests = "^2.30'))
    repo.commit_all("broken")

    code, report = check_json(repo.path)
    assert code == 1
    found = {f["file"]: f for f in report["findings"]}
    assert set(found) == {"poetry.lock", "pyproject.toml"}
    for rel, finding in found.items():
        assert finding["kind"] == "invalid-toml"
        with pytest.raises(MalformedToml) as exc:
            load_toml(repo.read(rel), rel)  # tomllib's own position
        assert exc.value.line is not None
        assert (finding["line"], finding["column"]) == (exc.value.line, exc.value.col)
    proc = run_check(repo.path)
    assert proc.returncode == 1
    assert f"poetry.lock:{found['poetry.lock']['line']}:" in proc.stdout


@pytest.mark.e2e
def test_stale_lock_and_unsupported_lock_version(make_single_project, poetry) -> None:
    repo = make_single_project({"requests": "^2.30"})
    repo.write("pyproject.toml", set_dependency_text(repo.read("pyproject.toml"), "click", "^8.1"))
    repo.commit_all("add click, forget to lock")
    assert poetry.check_lock(repo.path).returncode != 0

    proc = run_check(repo.path)
    assert proc.returncode == 1
    line = line_of(repo.read("poetry.lock"), "content-hash")
    assert f"poetry.lock:{line}: error: content-hash does not match" in proc.stdout
    assert "fix: lockfix run ." in proc.stdout
    code, report = check_json(repo.path)
    (finding,) = report["findings"]
    assert (finding["kind"], finding["line"]) == ("stale-lock", line)
    assert finding["details"]["found"] != finding["details"]["expected"]

    repo.write("poetry.lock", re.sub(r'lock-version = "[^"]+"', 'lock-version = "3.0"',
                                     repo.read("poetry.lock")))
    repo.commit_all("from the future")
    code, report = check_json(repo.path)
    assert code == 1
    (finding,) = report["findings"]
    assert finding["kind"] == "unsupported-lock-version"
    assert finding["line"] == line_of(repo.read("poetry.lock"), "lock-version")
    assert "3.0 is newer than lockfix understands" in finding["message"]


@pytest.mark.e2e
def test_missing_lock_is_a_warning(make_single_project, poetry) -> None:
    repo = make_single_project({"requests": "^2.30"})
    text = repo.read("pyproject.toml").replace('name = "app"', 'name = "tool"')
    repo.write("tools/tool/pyproject.toml", text)
    repo.write("tools/plain/pyproject.toml", "[tool.black]\nline-length = 100\n")
    repo.commit_all("a package without a lock, and a pyproject that is not Poetry's")
    code, report = check_json(repo.path)
    assert code == 0
    assert kinds(report) == [("missing-lock", "tools/tool/pyproject.toml",
                              line_of(text, "[tool.poetry.dependencies]"))]
    assert report["findings"][0]["severity"] == "warning"
    assert run_check(repo.path, "--strict").returncode == 1


@pytest.mark.e2e
def test_path_drift_that_poetry_check_misses(make_monorepo, poetry) -> None:
    mono = make_monorepo()
    dependents = (API_GATEWAY, BACKGROUND_WORKER)

    def drift_findings(*args: str) -> list[dict[str, Any]]:
        code, report = check_json(mono.path, *args)
        assert code == (1 if report["findings"] else 0)
        found: list[dict[str, Any]] = report["findings"]
        assert all(f["kind"] == "path-drift" for f in found), report
        return found

    def change_core(edit: Any, message: str) -> None:
        core = f"{CORE}/pyproject.toml"
        mono.write(core, edit(mono.read(core)))
        poetry.lock(mono.path / CORE)  # core itself is fresh; its dependents are not
        mono.commit_all(message)
        for d in dependents:
            assert poetry.check_lock(mono.path / d).returncode == 0  # Poetry sees nothing

    # a dependency added
    change_core(lambda t: set_dependency_text(t, "click", "^8.1"), "core: add click")
    found = drift_findings()
    assert [f["file"] for f in found] == [f"{d}/poetry.lock" for d in dependents]
    for f, d in zip(found, dependents):
        lock = mono.read(f"{d}/poetry.lock")
        assert f["line"] == line_of(lock, 'name = "core"')
        assert f["package"] == d and f["details"]["dependency"] == CORE
        assert [(c["kind"], c["name"]) for c in f["details"]["changes"]] == [("added", "click")]
        assert f["fix"] == f"lockfix run {d}"
    proc = run_check(mono.path)
    assert proc.returncode == 1
    assert f"{API_GATEWAY}/poetry.lock:{found[0]['line']}: error: path dependency core " \
        f"({CORE}) changed: click ^8.1 added" in proc.stdout
    # the pre-commit hook passes the staged file: the dependents are still checked
    assert len(drift_findings(f"{CORE}/pyproject.toml")) == 2

    # relocking the dependents makes it clean again: no false positive
    for d in dependents:
        poetry.lock(mono.path / d)
    mono.commit_all("relock dependents")
    assert drift_findings() == []

    # removed, re-constrained, version bumped: each alone against the relocked state
    core = f"{CORE}/pyproject.toml"
    base = mono.read(core)

    def changes_after(edit: Any) -> list[tuple[str, str, str | None, str | None]]:
        mono.write(core, edit(base))
        try:
            _, report = check_json(mono.path)
        finally:
            mono.write(core, base)
        found = [f for f in report["findings"] if f["kind"] == "path-drift"]
        if not found:
            return []
        assert [f["package"] for f in found] == list(dependents)
        assert found[0]["details"]["changes"] == found[1]["details"]["changes"]
        return [(c["kind"], c["name"], c["locked"], c["current"])
                for c in found[0]["details"]["changes"]]

    assert changes_after(lambda t: set_dependency_text(t, "click", None)) == [
        ("removed", "click", "^8.1", None)]
    assert changes_after(lambda t: set_dependency_text(t, "requests", "^2.31")) == [
        ("changed", "requests", "^2.30", "^2.31")]
    assert changes_after(lambda t: t.replace('version = "0.1.0"', 'version = "0.2.0"', 1)) == [
        ("version", "", "0.1.0", "0.2.0")]
    assert changes_after(lambda t: t.replace('"^2.30"', '">=2.30,<3.0"')) == []  # same range


# ---------------------------------------------------------------------------------------
# native freshness against real `poetry check --lock`

SOURCE = '''
[[tool.poetry.source]]
name = "local"
url = "{url}"
priority = "primary"
'''
CLASSIC = '''[tool.poetry]
name = "matrix"
version = "0.1.0"
description = "freshness matrix"
authors = ["Test <test@example.invalid>"]
package-mode = false

[tool.poetry.dependencies]
python = ">=3.9"
requests = "^2.30"
click = {{ version = "^8.1", optional = true }}

[tool.poetry.extras]
cli = ["click"]

[tool.poetry.group.dev.dependencies]
pytest = "^7.4"
''' + SOURCE + '''
[[tool.poetry.source]]
name = "mirror"
url = "http://127.0.0.1:9/simple/"
priority = "explicit"
'''
PEP621 = '''[project]
name = "matrix"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = ["requests (>=2.30,<3.0)"]

[project.optional-dependencies]
cli = ["click (>=8.1,<9.0)"]

[dependency-groups]
test = ["pytest (>=7.4,<8.0)"]

[tool.poetry]
package-mode = false
''' + SOURCE

# (name, edit) pairs; every edit is checked against a freshly locked project
EDITS_CLASSIC = [
    ("description", lambda t: t.replace("freshness matrix", "another description")),
    ("dependency", lambda t: t.replace('requests = "^2.30"', 'requests = "^2.31"')),
    ("group", lambda t: t.replace('pytest = "^7.4"', 'pytest = "^7.3"')),
    ("extras", lambda t: t.replace('cli = ["click"]', 'cli = ["click"]\nall = ["click"]')),
    ("source", lambda t: t.replace('priority = "explicit"', 'priority = "supplemental"')),
    ("python", lambda t: t.replace('python = ">=3.9"', 'python = ">=3.10"')),
]
EDITS_PEP621 = [
    ("version", lambda t: t.replace('version = "0.1.0"', 'version = "0.2.0"')),
    ("dependency", lambda t: t.replace("<3.0)", "<2.99)")),
    ("optional", lambda t: t.replace("cli = [", "fancy = [\"click\"]\ncli = [")),
    ("pep735", lambda t: t.replace("(>=7.4,<8.0)", "(>=7.3,<8.0)")),
    ("requires-python", lambda t: t.replace('requires-python = ">=3.9"',
                                            'requires-python = ">=3.10"')),
]


def _fresh_by_lockfix(path: Path) -> bool:
    code, report = check_json(path)
    assert {f["kind"] for f in report["findings"]} <= {"stale-lock"}, report
    return code == 0


@pytest.mark.e2e
@pytest.mark.parametrize("style", ["classic", "pep621"])
def test_freshness_agrees_with_poetry_check(poetry, index, tmp_path, style) -> None:
    if style == "pep621" and poetry.major < 2:
        pytest.skip("Poetry 1.x cannot lock [project] dependencies")
    template, edits = (CLASSIC, EDITS_CLASSIC) if style == "classic" else (PEP621, EDITS_PEP621)
    text = template.format(url=index.url)
    repo = git_repo(tmp_path / "p", {"pyproject.toml": text})
    poetry.lock(repo.path)
    repo.commit_all("locked")
    verdicts = {"locked": (poetry.check_lock(repo.path).returncode == 0,
                           _fresh_by_lockfix(repo.path))}
    for name, edit in edits:
        edited = edit(text)
        assert edited != text, name
        repo.write("pyproject.toml", edited)
        verdicts[name] = (poetry.check_lock(repo.path).returncode == 0,
                          _fresh_by_lockfix(repo.path))
    repo.write("pyproject.toml", text)
    disagreements = {k: v for k, v in verdicts.items() if v[0] != v[1]}
    assert disagreements == {}, verdicts
    assert verdicts["locked"] == (True, True)
    assert sum(not poetry_ok for poetry_ok, _ in verdicts.values()) >= len(edits) - 1


def _both_poetries(tmp_path: Path) -> dict[int, PoetryExe]:
    found: dict[int, PoetryExe] = {}
    for path in discover_poetries():
        home = tmp_path / f"home-{path.parent.parent.name}"
        home.mkdir()
        exe = PoetryExe(path=path, version=version_of(path), env=isolated_env(home))
        found.setdefault(exe.major, exe)
    if set(found) != {1, 2}:
        pytest.skip("needs Poetry 1.x and 2.x")
    return found


def _set_lock(repo: GitRepo, header: str | None, content_hash_value: str) -> None:
    text = repo.read("poetry.lock")
    lines = text.split("\n")
    if lines[0].startswith("#"):
        lines = lines[2:]  # header and the blank line after it
    text = "\n".join(lines)
    if header is not None:
        text = f"{header}\n\n{text}"
    text = re.sub(r'content-hash = "[^"]*"', f'content-hash = "{content_hash_value}"', text)
    repo.write("poetry.lock", text)


@pytest.mark.e2e
def test_freshness_of_locks_written_by_older_poetry(index, tmp_path) -> None:
    """The rules are chosen from the lock's first line, as Poetry 2.3+ does."""
    poetries = _both_poetries(tmp_path)
    old, new = poetries[1], poetries[2]
    # a classic project locked by 1.8 stays fresh for 2.x, and stale for both after an edit
    text = CLASSIC.format(url=index.url)
    repo = git_repo(tmp_path / "classic", {"pyproject.toml": text})
    old.lock(repo.path)
    repo.commit_all("locked by 1.8")
    assert "by Poetry 1.8" in repo.read("poetry.lock").split("\n", 1)[0]
    for exe in (old, new):
        assert exe.check_lock(repo.path).returncode == 0
    assert _fresh_by_lockfix(repo.path)
    repo.write("pyproject.toml", EDITS_CLASSIC[1][1](text))
    assert new.check_lock(repo.path).returncode != 0 and not _fresh_by_lockfix(repo.path)

    # PEP 735 groups: hashed since Poetry 2.3.0; a lock written before is compared
    # without them too. Craft such locks: the verdicts are real Poetry 2.x's.
    text = PEP621.format(url=index.url)
    repo = git_repo(tmp_path / "pep735", {"pyproject.toml": text})
    new.lock(repo.path)
    repo.commit_all("locked by 2.x")
    data = load_toml(text, "pyproject.toml")
    without_groups = content_hash(data, (2, 0))
    with_groups = content_hash(data, (2, 5, 1))
    assert without_groups != with_groups
    header = "# This file is automatically @generated by Poetry {} and should not be changed by hand."
    cases = [
        (header.format("2.2.1"), without_groups),
        (header.format("2.2.1"), with_groups),
        (header.format("2.5.1"), without_groups),
        (header.format("2.3.0"), without_groups),
        (None, with_groups),  # no header at all
    ]
    verdicts = []
    for first_line, value in cases:
        _set_lock(repo, first_line, value)
        verdicts.append((new.check_lock(repo.path).returncode == 0,
                         _fresh_by_lockfix(repo.path)))
    assert verdicts == [(True, True), (True, True), (False, False), (False, False),
                        (True, True)]


@pytest.mark.e2e
def test_headerless_lock_is_judged_like_poetry_does(index, tmp_path) -> None:
    poetries = _both_poetries(tmp_path)
    text = CLASSIC.format(url=index.url)
    repo = git_repo(tmp_path / "headerless", {"pyproject.toml": text})
    poetries[2].lock(repo.path)
    repo.commit_all("locked")
    data = load_toml(text, "pyproject.toml")
    assert content_hash(data, (1, 1)) != content_hash(data, (1, 8))  # [tool.poetry.group]
    _set_lock(repo, None, content_hash(data, (1, 1)))
    verdicts = [exe.check_lock(repo.path).returncode == 0 for exe in poetries.values()]
    assert verdicts == [False, False]
    assert _fresh_by_lockfix(repo.path) is False
