"""A merge never runs code from the merged branch unless the user allows it (issue 13).

Real git, real Poetry (both lines) and real uv (both lines), the local index. The build
code under test is a path dependency ``libs/dyn`` whose metadata is dynamic, so every
solver must run its build code to lock it: an in-tree PEP 517 backend
(``backend-path = ["."]``, ``requires = []``: no download) and a ``setup.py`` whose
arguments no static reader can evaluate (Poetry 1.8 cannot install ``build`` offline and
falls back to executing ``setup.py egg_info``). Both write a sentinel file outside the
repository whenever they run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lockfix.buildsafety import is_static, reader_for
from lockfix.config import allow_build
from lockfix.git import Git
from lockfix.localindex import PackageIndex
from lockfix.toml import load_toml
from tests.support.lockfix import lockfix
from tests.support.poetry import PoetryExe, isolated_env
from tests.support.repos import GitRepo, locked_versions
from tests.support.uv import UvExe

pytestmark = pytest.mark.e2e

DYN_PYPROJECT = """[project]
name = "dyn"
version = "0.1.0"
requires-python = ">=3.9"
dynamic = ["dependencies"]

[build-system]
requires = []
build-backend = "build_backend"
backend-path = ["."]
"""


def backend_py(sentinel: Path, requires: list[str]) -> str:
    """An in-tree build backend: code from the branch, run by any build of ``dyn``."""
    metadata = "".join(
        ["Metadata-Version: 2.1\\nName: dyn\\nVersion: 0.1.0\\n"]
        + [f"Requires-Dist: {r}\\n" for r in requires]
    )
    return f'''"""dyn's in-tree build backend; it writes a sentinel whenever it runs."""
import pathlib
import zipfile

pathlib.Path({str(sentinel)!r}).write_text("build_backend.py ran")
METADATA = "{metadata}"


def get_requires_for_build_wheel(config_settings=None):
    return []


get_requires_for_build_editable = get_requires_for_build_sdist = get_requires_for_build_wheel


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info = pathlib.Path(metadata_directory) / "dyn-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(METADATA)
    return info.name


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "dyn-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / name, "w") as whl:
        whl.writestr("dyn-0.1.0.dist-info/METADATA", METADATA)
        whl.writestr("dyn-0.1.0.dist-info/WHEEL",
                     "Wheel-Version: 1.0\\nGenerator: dyn\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
        whl.writestr("dyn-0.1.0.dist-info/RECORD", "")
    return name


build_editable = build_wheel
'''


def setup_py(sentinel: Path, requires: list[str]) -> str:
    """The legacy fallback Poetry 1.8 executes (its arguments are not literals)."""
    return (
        "import pathlib\n"
        f"pathlib.Path({str(sentinel)!r}).write_text('setup.py ran')\n"
        "from setuptools import setup\n"
        f"setup(name='dyn', version='0.1.0', install_requires=list(map(str, {requires!r})))\n"
    )


def write_dyn(repo: GitRepo, sentinel: Path, requires: list[str]) -> None:
    repo.write("libs/dyn/pyproject.toml", DYN_PYPROJECT)
    repo.write("libs/dyn/build_backend.py", backend_py(sentinel, requires))
    repo.write("libs/dyn/setup.py", setup_py(sentinel, requires))


def add_line_after(repo: GitRepo, rel: str, anchor: str, line: str) -> None:
    text = repo.read(rel)
    assert anchor in text, text
    repo.write(rel, text.replace(anchor, anchor + line, 1))


def refused(stderr: str, lockfile: str) -> bool:
    """The driver's one line: which package, which file, how to proceed."""
    lines = [ln for ln in stderr.splitlines() if f"lockfix: {lockfile}: not relocked" in ln]
    return len(lines) == 1 and all(
        s in lines[0] for s in ("dyn", "libs/dyn", "lockfix run", "git config lockfix.allowBuild true")
    )


# -- Poetry ------------------------------------------------------------------------------

def poetry_app(index_url: str) -> str:
    return f"""[tool.poetry]
name = "app"
version = "0.1.0"
description = "lockfix build-safety test"
authors = []
package-mode = false

[tool.poetry.dependencies]
python = ">=3.9"
six = "*"

[[tool.poetry.source]]
name = "local"
url = "{index_url}"
priority = "primary"
"""


def test_incoming_path_dependency_build_code_not_run_by_merge(tmp_path, poetry: PoetryExe,
                                                                index: PackageIndex):
    sentinel = tmp_path / "SENTINEL"
    repo = GitRepo.init(tmp_path / "repo", poetry.env)
    repo.write("pyproject.toml", poetry_app(index.url))
    poetry.lock(repo.path)
    repo.commit_all("base")
    proc = lockfix("install", cwd=repo.path, poetry=poetry)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    repo.commit_all("route lock files to lockfix")
    repo.checkout("feature", create=True)
    write_dyn(repo, sentinel, ["attrs>=23"])
    add_line_after(repo, "pyproject.toml", 'six = "*"\n', 'dyn = { path = "libs/dyn", develop = true }\n')
    # the incoming branch tries to grant itself permission: it must grant nothing
    repo.write("pyproject.toml", repo.read("pyproject.toml") + "\n[tool.lockfix]\nallow-build = true\n")
    poetry.lock(repo.path)
    assert sentinel.exists()  # locking dyn does run its build code
    repo.commit_all("theirs: add the dyn path dependency")
    repo.checkout("main")
    add_line_after(repo, "pyproject.toml", 'six = "*"\n', 'click = "^8.1"\n')
    poetry.lock(repo.path)
    repo.commit_all("ours: add click")
    repo.env = {**repo.env, "LOCKFIX_POETRY": str(poetry.path)}

    plain_env = {**repo.env, "LOCKFIX_DISABLE": "1"}
    plain = subprocess.run(["git", "merge", "--no-edit", "feature"], cwd=repo.path, env=plain_env,
                           capture_output=True, text=True)
    assert plain.returncode != 0 and "poetry.lock" in repo.unmerged()
    plain_lock = repo.read("poetry.lock")
    repo.git("merge", "--abort")

    sentinel.unlink()
    proc = repo.merge("feature")
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert not sentinel.exists(), sentinel.read_text()
    assert "poetry.lock" in repo.unmerged()
    assert repo.read("poetry.lock") == plain_lock  # exactly what plain git left
    assert refused(proc.stderr, "poetry.lock"), proc.stderr
    repo.git("merge", "--abort")

    repo.git("config", "lockfix.allowBuild", "true")  # this clone's owner allows it
    proc = repo.merge("feature")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if poetry.major >= 2:  # Poetry 1.8 does not inspect again a directory dependency the
        assert sentinel.exists()  # preferred lock already records ("nothing could have changed")
    assert {"attrs", "click", "dyn", "six"} <= locked_versions(repo.path / "poetry.lock").keys()
    assert poetry.check_lock(repo.path).returncode == 0


# -- uv ----------------------------------------------------------------------------------

UV_APP = """[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = [
    "six",
]
"""
UV_DYN_SOURCE = '\n[tool.uv.sources]\ndyn = { path = "libs/dyn", editable = true }\n'


def uv_locked(path: Path) -> set[str]:
    return {p["name"] for p in load_toml(path.read_text(), str(path)).get("package", [])}


@pytest.mark.parametrize("case", ["merge-adds", "rebase-changes"])
def test_uv_driver_runs_no_incoming_build_code(tmp_path, uv: UvExe, index: PackageIndex, case):
    """``merge-adds``: the merged branch adds the path dependency; ``rebase-changes``: the
    replayed commit changes the build code of a path dependency both sides already had."""
    sentinel = tmp_path / "SENTINEL"
    env = {**uv.env, "LOCKFIX_UV": str(uv.path)}
    repo = GitRepo.init(tmp_path / "repo", env)
    repo.write("pyproject.toml", UV_APP)
    if case == "rebase-changes":
        write_dyn(repo, sentinel, ["six"])
        add_line_after(repo, "pyproject.toml", '    "six",\n', '    "dyn",\n')
        repo.write("pyproject.toml", repo.read("pyproject.toml") + UV_DYN_SOURCE)
    uv.lock(repo.path)
    repo.commit_all("base")
    proc = subprocess.run([sys.executable, "-m", "lockfix", "install"], cwd=repo.path, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    repo.commit_all("route lock files to lockfix")
    repo.checkout("feature", create=True)
    if case == "merge-adds":
        write_dyn(repo, sentinel, ["attrs>=23"])
        add_line_after(repo, "pyproject.toml", '    "six",\n', '    "dyn",\n')
        repo.write("pyproject.toml", repo.read("pyproject.toml") + UV_DYN_SOURCE
                   + "\n[tool.lockfix]\nallow-build = true\n")
    else:
        write_dyn(repo, sentinel, ["six", "attrs>=23"])  # setup.py and the backend change
    uv.lock(repo.path)
    repo.commit_all("feature: dyn's build code")
    repo.checkout("main")
    add_line_after(repo, "pyproject.toml", '    "six",\n', '    "click>=8",\n')
    uv.lock(repo.path)
    repo.commit_all("main: add click")

    def operate() -> subprocess.CompletedProcess[str]:
        if case == "merge-adds":
            return repo.merge("feature")
        repo.checkout("feature")
        return repo.git("rebase", "main", check=False)

    def abort() -> None:
        repo.git("merge" if case == "merge-adds" else "rebase", "--abort")
        repo.checkout("main")

    sentinel.unlink(missing_ok=True)
    proc = operate()
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert not sentinel.exists(), sentinel.read_text()
    assert "uv.lock" in repo.unmerged() and repo.has_conflict_markers("uv.lock")
    assert refused(proc.stderr, "uv.lock"), proc.stderr
    # `lockfix run` is explicit, like `uv lock`: it runs the build code, and says whose
    ran = subprocess.run([sys.executable, "-m", "lockfix", "run"], cwd=repo.path, env=repo.env,
                         capture_output=True, text=True)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    notes = [ln for ln in ran.stdout.splitlines() if "runs build code from the other side" in ln]
    assert len(notes) == 1 and "dyn (libs/dyn" in notes[0], ran.stdout
    assert sentinel.exists()
    sentinel.unlink()
    abort()

    proc = subprocess.run(["git", "-c", "lockfix.allowBuild=true", *(
        ["merge", "--no-edit", "feature"] if case == "merge-adds" else ["rebase", "main", "feature"]
    )], cwd=repo.path, env=repo.env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sentinel.exists()
    assert {"attrs", "click", "dyn", "six"} <= uv_locked(repo.file("uv.lock"))
    assert uv.check_lock(repo.path).returncode == 0


# -- where permission comes from ---------------------------------------------------------

def test_permission_only_from_the_person_or_ours_committed_settings(tmp_path):
    repo = GitRepo.init(tmp_path / "repo", isolated_env(tmp_path))
    repo.write("pyproject.toml", '[project]\nname = "app"\nversion = "0"\n')
    repo.commit_all("base")
    git = Git(repo.path)
    clean: dict[str, str] = {}
    assert allow_build(git, clean)[0] is False
    # the working tree (a merge's result, an incoming side's edit) grants nothing
    repo.write("pyproject.toml", repo.read("pyproject.toml") + "\n[tool.lockfix]\nallow-build = true\n")
    assert allow_build(git, clean)[0] is False
    repo.commit_all("ours: allow builds")
    assert allow_build(git, clean) == (True, "[tool.lockfix] allow-build at HEAD")
    repo.git("config", "lockfix.allowBuild", "false")  # the person's word wins, either way
    assert allow_build(git, clean) == (False, "git config lockfix.allowBuild")
    assert allow_build(git, {"LOCKFIX_ALLOW_BUILD": "1"}) == (True, "LOCKFIX_ALLOW_BUILD")
    repo.git("config", "lockfix.allowBuild", "true")
    assert allow_build(git, {"LOCKFIX_ALLOW_BUILD": "0"})[0] is False


# -- which metadata a solver reads without building (pure) -------------------------------

POETRY_STYLE = {"tool": {"poetry": {"name": "p", "version": "1"}}}
PEP621 = {"project": {"name": "p", "version": "1", "dependencies": []},
          "build-system": {"build-backend": "hatchling.build"}}
PEP621_DYNAMIC = {"project": {"name": "p", "dynamic": ["version"]},
                  "build-system": {"build-backend": "setuptools.build_meta"}}
PEP621_README = {"project": {"name": "p", "version": "1", "dynamic": ["readme"]}}
POETRY2_DYNAMIC = {"project": {"name": "p", "version": "1", "dynamic": ["dependencies"]},
                   "tool": {"poetry": {"dependencies": {"six": "*"}}},
                   "build-system": {"build-backend": "poetry.core.masonry.api"}}
BUILD_SCRIPT = {"tool": {"poetry": {"name": "p", "version": "1", "build": {"script": "b.py"}}}}
SETUP_PY_ONLY: dict[str, object] = {"build-system": {"requires": ["setuptools"]}}


@pytest.mark.parametrize(
    ("manifest", "poetry1", "poetry2", "uv"),
    [
        (POETRY_STYLE, True, True, False),
        (PEP621, False, True, True),
        (PEP621_DYNAMIC, False, False, False),
        (PEP621_README, False, True, True),
        (POETRY2_DYNAMIC, False, True, False),
        (BUILD_SCRIPT, False, False, False),
        (SETUP_PY_ONLY, False, False, False),
    ],
    ids=["poetry-style", "pep621", "pep621-dynamic-version", "pep621-dynamic-readme",
         "poetry2-dynamic-deps", "poetry-build-script", "setup-py-only"],
)
def test_static_metadata_per_solver(manifest, poetry1, poetry2, uv):
    assert [is_static(manifest, r) for r in ("poetry1", "poetry2", "uv")] == [poetry1, poetry2, uv]
    assert reader_for("poetry", (1, 8, 5)) == "poetry1"
    assert reader_for("poetry", (2, 5, 1)) == "poetry2" and reader_for("uv", (0, 5)) == "uv"
