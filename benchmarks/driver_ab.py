"""One single-package merge through the driver, two lockfix versions interleaved.

Issue 12's "single-package merges get no slower": the same origin repository (one Poetry
project, both branches adding a dependency), and in each round two fresh clones with the
driver installed, one running this checkout's lockfix and one running ``--old-src`` (the
``src`` directory of another checkout, e.g. ``git worktree add /tmp/old <commit>``), put
first on ``PYTHONPATH`` for every process git starts. The order alternates per round, so
neither side always runs with the warmer cache. Run:

    .venv/bin/python benchmarks/driver_ab.py --old-src /tmp/old/src [--rounds 9] [--poetry PATH]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, add_dependency, bench_env, pyproject_text, sh

from lockfix.backends.poetry.tool import find_poetry, relock_args
from lockfix.localindex import DEFAULT_UNIVERSE, PackageIndex


def origin_repo(work: Path, env: dict[str, str], lock: list[str], index_url: str) -> Path:
    origin = work / "origin"
    (origin / "app").mkdir(parents=True)
    (origin / "app" / "__init__.py").write_text("")
    (origin / "pyproject.toml").write_text(
        pyproject_text("app", {"requests": "^2.30", "fastapi": "^0.104"}, False, index_url))
    sh(["git", "init", "-q", "-b", "main"], origin, env)
    sh(lock, origin, env)
    sh(["git", "add", "-A"], origin, env)
    sh(["git", "commit", "-qm", "base"], origin, env)
    for branch, dep, constraint in (("feature", "click", "^8.1"), ("main", "attrs", "^23.1")):
        sh(["git", "checkout", "-q", *(["-b"] if branch == "feature" else []), branch], origin, env)
        add_dependency(origin, dep, constraint)
        sh(lock, origin, env)
        sh(["git", "commit", "-qam", dep], origin, env)
    return origin


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-src", required=True, type=Path)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--poetry", action="append", default=None)
    args = ap.parse_args()
    poetries = args.poetry or [str(p) for p in
                               sorted(ROOT.glob(".tools/poetry-*/bin/poetry"), reverse=True)]
    print(f"whole `git merge` through the driver, medians of {args.rounds} interleaved rounds")
    for path in poetries:
        poetry = find_poetry(str(Path(path).resolve()))
        work = Path(tempfile.mkdtemp(prefix="lockfix-ab-"))
        index = PackageIndex()
        index.add_many(DEFAULT_UNIVERSE)
        env = bench_env(work, poetry)
        try:
            origin = origin_repo(work, env, [str(poetry.executable), *relock_args(poetry.version)],
                                 index.url)
            times: dict[str, list[float]] = {"old": [], "new": []}
            locks: dict[str, str] = {}
            for i in range(args.rounds):
                for which in (("old", "new") if i % 2 else ("new", "old")):
                    run_env = {**env, "PYTHONPATH": str(args.old_src.resolve())} if which == "old" else env
                    clone = work / f"{which}-{i}"
                    sh(["git", "clone", "-q", str(origin), str(clone)], work, run_env)
                    sh(["git", "branch", "-q", "feature", "origin/feature"], clone, run_env)
                    sh([sys.executable, "-m", "lockfix", "install", "--attributes-file", "info"],
                       clone, run_env)
                    t0 = time.perf_counter()
                    sh(["git", "merge", "--no-edit", "-q", "feature"], clone, run_env)
                    times[which].append(time.perf_counter() - t0)
                    locks[which] = (clone / "poetry.lock").read_text()
                    shutil.rmtree(clone)
            assert locks["old"] == locks["new"], "the two versions wrote different locks"
            old, new = statistics.median(times["old"]), statistics.median(times["new"])
            print(f"{Path(path).parents[1].name:<14} old {old:.3f} s  new {new:.3f} s  "
                  f"new/old {new / old:.3f}", flush=True)
        finally:
            index.stop()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
