"""What each lock policy costs on a two-sided clash: re-resolved names, fetches, index requests.

    .venv/bin/python benchmarks/lock_policy_bench.py [--poetry PATH ...] [--scenario NAME ...]

Three merges, each stopped by plain git on ``poetry.lock`` and then finished by
``lockfix run --lock-policy P`` for every policy, on copies of the same conflicted clone:

- ``git-branch``: a git dependency on ``branch = "main"``, locked by each side at another
  commit (issue 11 item 9);
- ``git-tag``: both sides re-pinned the git dependency to another tag, the merge keeps
  ours' spec (``manifest-policy = "ours"``; issue 15 item 3);
- ``index``: both sides ran ``poetry update idna`` at different times (3.7 and 3.8), and
  3.9 is out by the time of the merge.

For each: the names the preferred lock leaves out (what Poetry re-resolves), whether the
merge succeeds with the git repository moved away (no fetch needed), the requests Poetry
sends the package index while relocking, and the version it ends with. Everything is
local (the test index on 127.0.0.1, a bare repository on disk); nothing is faked.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test bed: tests.support
sys.path.insert(0, str(ROOT / "src"))

from lockfix.backends.poetry.lock import merge_locks  # noqa: E402
from lockfix.localindex import DEFAULT_UNIVERSE, PackageIndex  # noqa: E402
from lockfix.manifest import merge_manifest  # noqa: E402
from lockfix.toml import load_toml  # noqa: E402
from tests.support.lockfix import lockfix  # noqa: E402
from tests.support.poetry import PoetryExe, discover_poetries, isolated_env, version_of  # noqa: E402
from tests.support.repos import (  # noqa: E402
    GitRepo,
    add_dependency,
    locked_versions,
    single_project,
    update_dependency,
)
from tests.test_lock_policy_e2e import GitPackage, configure  # noqa: E402

POLICIES = ("drop", "higher", "higher-or-drop")


def _git_package(work: Path, poetry: PoetryExe) -> GitPackage:
    src, bare = work / "gitpkg-src", work / "gitpkg.git"
    src.mkdir()
    pkg = GitPackage(src, bare, dict(poetry.env))
    pkg._git("init", "-q", "-b", "main", cwd=src)
    pkg._git("init", "-q", "--bare", str(bare), cwd=work)
    pkg.publish("1.0.0")
    return pkg


def git_branch(repo: GitRepo, poetry: PoetryExe, index: PackageIndex, pkg: GitPackage) -> None:
    add_dependency(repo, ".", "gitpkg", {"git": pkg.url, "branch": "main"}, poetry, commit="gitpkg")
    repo.branch("feature")
    pkg.publish("1.1.0")
    update_dependency(repo, ".", "gitpkg", poetry, commit="ours: 1.1.0")
    repo.checkout("feature")
    pkg.publish("1.2.0")
    update_dependency(repo, ".", "gitpkg", poetry, commit="theirs: 1.2.0")


def git_tag(repo: GitRepo, poetry: PoetryExe, index: PackageIndex, pkg: GitPackage) -> None:
    for version in ("1.1.0", "1.2.0"):
        pkg.publish(version)
    configure(repo, **{"manifest-policy": "ours"})
    add_dependency(repo, ".", "gitpkg", {"git": pkg.url, "tag": "v1.0.0"}, poetry, commit="gitpkg")
    repo.branch("feature")
    add_dependency(repo, ".", "gitpkg", {"git": pkg.url, "tag": "v1.1.0"}, poetry, commit="ours")
    repo.checkout("feature")
    add_dependency(repo, ".", "gitpkg", {"git": pkg.url, "tag": "v1.2.0"}, poetry, commit="theirs")


def index_update(repo: GitRepo, poetry: PoetryExe, index: PackageIndex, pkg: GitPackage) -> None:
    repo.branch("feature")
    index.add("idna", "3.7")
    update_dependency(repo, ".", "idna", poetry, commit="ours: idna 3.7")
    repo.checkout("feature")
    index.add("idna", "3.8")
    update_dependency(repo, ".", "idna", poetry, commit="theirs: idna 3.8")
    index.add("idna", "3.9")


Build = Callable[[GitRepo, PoetryExe, PackageIndex, GitPackage], None]
#: name -> (the clashing package, how the branches are made, ``lockfix run`` flags: a
#: conflicted root pyproject.toml cannot give its [tool.lockfix] to ``lockfix run``)
SCENARIOS: dict[str, tuple[str, Build, tuple[str, ...]]] = {
    "git-branch": ("gitpkg", git_branch, ()),
    "git-tag": ("gitpkg", git_tag, ("--manifest-policy", "ours")),
    "index": ("idna", index_update, ()),
}


def _dropped(repo: GitRepo, policy: str) -> list[str]:
    """What the preferred lock leaves out for Poetry to resolve, as ``lockfix run`` merges."""
    conflicted = "pyproject.toml" in repo.unmerged()
    stages = {n: repo.stage(n, "pyproject.toml") for n in (1, 2, 3)} if conflicted else {}
    if not stages:
        manifest = load_toml(repo.read("pyproject.toml"), "pyproject.toml")
    else:
        settings = load_toml(stages[2], "ours").get("tool", {}).get("lockfix", {})
        merged = merge_manifest(stages[1], stages[2], stages[3], settings.get("manifest-policy", "theirs"))
        manifest = load_toml(merged.text, "merged")
    base, ours, theirs = (repo.stage(n, "poetry.lock") for n in (1, 2, 3))
    result = merge_locks(base, ours, theirs, policy, manifest=manifest)  # type: ignore[arg-type]
    return [c.name for c in result.clashes if c.resolution == "dropped"]


def measure(poetry: PoetryExe, work: Path, only: list[str]) -> None:
    for scenario, (name, build, flags) in SCENARIOS.items():
        if only and scenario not in only:
            continue
        index = PackageIndex()
        index.add_many(DEFAULT_UNIVERSE)
        try:
            base = work / scenario
            base.mkdir()
            pkg = _git_package(base, poetry)
            repo = single_project(base, poetry, index, {"requests": "^2.30"})
            build(repo, poetry, index, pkg)
            repo.checkout("main")
            assert repo.merge("feature").returncode != 0
            clones = {}
            for policy in POLICIES:
                for reach in ("reachable", "gone"):
                    dest = base / f"{policy}-{reach}"
                    shutil.copytree(repo.path, dest, symlinks=True)
                    clones[policy, reach] = GitRepo(dest, dict(repo.env))
            for reach in ("reachable", "gone"):
                if reach == "gone":
                    pkg.make_unreachable()
                for policy in POLICIES:
                    clone = clones[policy, reach]
                    dropped = _dropped(clone, policy)
                    before = len(index.requests)
                    started = time.monotonic()
                    proc = lockfix("run", "--lock-policy", policy, *flags, cwd=clone.path,
                                   poetry=poetry)
                    took = time.monotonic() - started
                    requests = len(index.requests) - before
                    ok = proc.returncode == 0
                    got = locked_versions(clone.path / "poetry.lock").get(name) if ok else "-"
                    print(f"{poetry.label:<12} {scenario:<11} {policy:<15} {reach:<10} "
                          f"re-resolved={len(dropped)} ok={ok!s:<5} index-requests={requests:<3} "
                          f"{name}={got:<6} {took:5.1f}s", flush=True)
        finally:
            index.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poetry", action="append", type=Path, help="Poetry executable(s)")
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS), default=[])
    args = parser.parse_args()
    for path in args.poetry or discover_poetries():
        with tempfile.TemporaryDirectory(prefix="lockfix-policy-") as tmp:
            home = Path(tmp) / "home"
            home.mkdir()
            poetry = PoetryExe(path=path, version=version_of(path), env=isolated_env(home))
            measure(poetry, Path(tmp), args.scenario)


if __name__ == "__main__":
    main()
