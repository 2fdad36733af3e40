"""The release artifacts, built and used the way a packager and a new user would.

The sdist and the wheel are built with ``python -m build`` (the wheel from the sdist, as
the release workflow and downstream packagers do) from a copy of the source tree; the
wheel is installed into a fresh venv with no other lockfix on the path, and the
installed ``lockfix`` must pass ``tests/smoke-installed.sh`` (``--version``, ``--help``,
a real ``lockfix check``), the script the release workflow runs on the wheel it publishes.

Offline: ``--no-isolation`` builds with this venv's setuptools, and the fresh venv gets
lockfix's dependencies with ``--no-index`` from the wheelhouse ``./dev setup`` keeps next
to this venv (``<venv>/wheelhouse``). Marked ``build``: it runs once, on the default
Python, not per Poetry line.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest

from lockfix.toml import load_toml

pytestmark = pytest.mark.build

ROOT = Path(__file__).resolve().parents[1]
WHEELHOUSE = Path(sys.prefix) / "wheelhouse"
SMOKE = ROOT / "tests" / "smoke-installed.sh"

#: Never part of a build: local environments, tools, caches, earlier builds.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv*", ".tools", "build", "dist", "*.egg-info", "__pycache__", "*.py[cod]",
    ".*_cache", ".hypothesis",
)


def source_version() -> str:
    """``lockfix.__version__`` as written in the source (read, not imported)."""
    tree = ast.parse((ROOT / "src" / "lockfix" / "__init__.py").read_text())
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)):
            return str(node.value.value)
    raise AssertionError("no __version__ in src/lockfix/__init__.py")


def files_under(top: Path) -> set[str]:
    """Source files below ``top`` (relative, ``/``-separated), without caches."""
    return {
        p.relative_to(top).as_posix()
        for p in top.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_version_lives_in_one_place_and_the_changelog_names_it() -> None:
    project = load_toml((ROOT / "pyproject.toml").read_text(), "pyproject.toml")
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "lockfix.__version__"
    version = source_version()
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[{re.escape(version)}\]", changelog, re.M), (
        f"CHANGELOG.md has no '## [{version}]' section"
    )


def test_sdist_and_wheel_build_install_and_run(tmp_path: Path) -> None:
    version = source_version()
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE, symlinks=True)
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert sorted(p.name for p in dist.iterdir()) == [
        f"lockfix-{version}-py3-none-any.whl", f"lockfix-{version}.tar.gz",
    ]
    wheel = dist / f"lockfix-{version}-py3-none-any.whl"
    check_wheel(wheel, version)
    check_sdist(dist / f"lockfix-{version}.tar.gz", version)
    check_installed(wheel, version, tmp_path)


def check_wheel(wheel: Path, version: str) -> None:
    """The package, complete, and its metadata; no tests, benchmarks or tools."""
    info = f"lockfix-{version}.dist-info"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = HeaderParser().parsestr(zf.read(f"{info}/METADATA").decode())
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
    package = {n for n in names if n.startswith("lockfix/")}
    assert package == {f"lockfix/{f}" for f in files_under(ROOT / "src" / "lockfix")}
    assert "lockfix/py.typed" in package
    assert names - package == {
        f"{info}/{f}" for f in
        ("METADATA", "WHEEL", "RECORD", "entry_points.txt", "top_level.txt", "licenses/LICENSE")
    }
    assert metadata["Name"] == "lockfix"
    assert metadata["Version"] == version
    assert metadata["Requires-Python"] == ">=3.9"
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License-File"] == "LICENSE"
    assert "tomli>=1.1; python_version < \"3.11\"" in metadata.get_all("Requires-Dist", [])
    assert re.search(r"^lockfix = lockfix\.cli:main$", entry_points, re.M)


def check_sdist(sdist: Path, version: str) -> None:
    """What a downstream packager needs to rebuild, test and document lockfix."""
    top = f"lockfix-{version}/"
    with tarfile.open(sdist) as tf:
        names = {m.name[len(top):] for m in tf.getmembers() if m.isfile()}
    needed = {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "PKG-INFO",
              "MANIFEST.in", "gitattributes.example", "dev"}
    needed |= {f"src/lockfix/{f}" for f in files_under(ROOT / "src" / "lockfix")}
    needed |= {f"tests/{f}" for f in files_under(ROOT / "tests")}
    assert needed - names == set()
    unwanted = [n for n in names if n.startswith((".venv", ".tools", ".git/", "build/", "dist/"))
                or "__pycache__" in n or n.endswith(".pyc")]
    assert unwanted == []


def check_installed(wheel: Path, version: str, tmp_path: Path) -> None:
    """The wheel in a fresh venv, its dependencies from the wheelhouse only, then the
    installed command as a user runs it, with no other lockfix reachable."""
    if not (WHEELHOUSE / ".stamp").is_file():
        pytest.fail(f"no wheelhouse at {WHEELHOUSE}: run ./dev setup")
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python, lockfix = venv / "bin" / "python", venv / "bin" / "lockfix"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # no index or find-links from the machine's pip.conf
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check",
         "install", "-q", "--no-index", "--find-links", str(WHEELHOUSE), str(wheel)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    # only the fresh venv's bin and system directories (git, bash) on PATH
    ours = Path(sys.prefix).resolve()
    path = [str(venv / "bin")] + [
        d for d in env.get("PATH", "").split(os.pathsep)
        if d and not Path(d).resolve().is_relative_to(ours)
    ]
    env["PATH"] = os.pathsep.join(path)
    assert shutil.which("lockfix", path=env["PATH"]) == str(lockfix)
    where = subprocess.run(
        [str(python), "-c", "import lockfix; print(lockfix.__file__)"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

    smoke = subprocess.run(
        ["bash", str(SMOKE), "lockfix", version],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert smoke.stdout.splitlines()[0] == f"lockfix, version {version}"
    assert "lockfix check: no problems" in smoke.stdout
    assert "content-hash does not match pyproject.toml" in smoke.stdout
    assert smoke.stdout.rstrip().endswith("smoke: ok")
