"""`lockfix run` on a monorepo after a rebase, against the usual sequential Makefile loop.

Issue 5's target: with 8 conflicted packages, ``lockfix run`` (default parallelism) is at
least 2x faster than ``for pkg in ...; do (cd $pkg && poetry lock); done`` on this
2-core machine, and gives identical locks. Measured side by side in one run:

* a monorepo in a real git repository: ``packages/core`` (requests) and 16 services, each
  with a path dependency on core (``develop = true``) and 1-2 registry dependencies, all
  locked by real Poetry against a package index on 127.0.0.1;
* for K conflicted packages (1, 4, 8, 16): branch ``main-K`` adds ``structlog`` and branch
  ``feature-K`` adds ``six`` to the first K services, each relocked; ``git rebase
  main-K`` from ``feature-K`` then stops with K conflicted ``pyproject.toml`` and K
  conflicted ``poetry.lock`` files;
* **lockfix**: ``lockfix run`` in that state, timed from outside (start-up, planning,
  the three-way merges, Poetry, verification, staging);
* **loop**: the same conflicted state in another clone, where each package first gets
  exactly the files lockfix hands Poetry (the merged ``pyproject.toml`` and the
  preferred lock, written untimed, so the loop is not charged for merging), then
  ``cd pkg && poetry lock`` (``--no-update`` on 1.8) one package after the other;
* the K resulting locks must be byte-identical between the two.

Both use the same warm, isolated Poetry cache and ``POETRY_VIRTUALENVS_CREATE=false``
(a venv build per clone would otherwise dominate both). Order alternates per round. Run:

    .venv/bin/python benchmarks/run_bench.py [--rounds 5] [--counts 1,4,8,16] [--poetry PATH]
        [--plain-poetry]   # without the shared Poetry start: what parallelism alone gives
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import ROOT, add_dependency, bench_env, pyproject_text, sh

from lockfix.backends.poetry.lock import merge_locks
from lockfix.backends.poetry.tool import find_poetry, relock_args
from lockfix.localindex import DEFAULT_UNIVERSE, PackageIndex
from lockfix.manifest import merge_manifest

SERVICES = 16
FLAVOURS = [{"fastapi": "^0.104"}, {"celery": "^5.3"}, {"rich": "^13.6"},
            {"httpx": "^0.25", "click": "^8.1"}, {"pytest": "^7.4"}, {"pydantic": "^2.5"}]



def service(i: int) -> str:
    return f"packages/svc-{i:02d}"



class Bench:
    def __init__(self, poetry_path: str, plain: bool = False) -> None:
        self.poetry = find_poetry(str(Path(poetry_path).resolve()))
        self.work = Path(tempfile.mkdtemp(prefix="lockfix-runbench-"))
        self.index = PackageIndex()
        self.index.add_many(DEFAULT_UNIVERSE)
        self.env = bench_env(self.work, self.poetry)
        if plain:  # every relock a separate `poetry lock` process: parallelism alone
            self.env["LOCKFIX_POETRY_SERVER"] = "0"
        self.lock_cmd = [str(self.poetry.executable), *relock_args(self.poetry.version)]
        self.origin = self.work / "origin"

    def close(self) -> None:
        self.index.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    def relock_all(self, repo: Path, pkgs: list[str]) -> None:
        with ThreadPoolExecutor(2) as pool:  # set-up only: not measured
            list(pool.map(lambda p: sh(self.lock_cmd, repo / p, self.env), pkgs))

    def build(self, counts: list[int]) -> None:
        repo = self.origin
        (repo / "packages/core/core").mkdir(parents=True)
        (repo / "packages/core/core/__init__.py").write_text("")
        (repo / "packages/core/pyproject.toml").write_text(
            pyproject_text("core", {"requests": "^2.30"}, False, self.index.url))
        for i in range(1, SERVICES + 1):
            pkg = repo / service(i)
            (pkg / f"svc_{i:02d}").mkdir(parents=True)
            (pkg / f"svc_{i:02d}" / "__init__.py").write_text("")
            (pkg / "pyproject.toml").write_text(
                pyproject_text(f"svc-{i:02d}", FLAVOURS[i % len(FLAVOURS)], True, self.index.url))
        sh(["git", "init", "-q", "-b", "base"], repo, self.env)
        sh(self.lock_cmd, repo / "packages/core", self.env)
        self.relock_all(repo, [service(i) for i in range(1, SERVICES + 1)])
        sh(["git", "add", "-A"], repo, self.env)
        sh(["git", "commit", "-qm", "base"], repo, self.env)
        for k in counts:
            for branch, dep, constraint in ((f"main-{k}", "structlog", "^23.2"),
                                            (f"feature-{k}", "six", "^1.16")):
                sh(["git", "checkout", "-q", "-b", branch, "base"], repo, self.env)
                pkgs = [service(i) for i in range(1, k + 1)]
                for p in pkgs:
                    add_dependency(repo / p, dep, constraint)
                self.relock_all(repo, pkgs)
                sh(["git", "commit", "-qam", f"{branch}: {dep}"], repo, self.env)
        sh(["git", "checkout", "-q", "base"], repo, self.env)

    def conflicted_clone(self, k: int, name: str) -> tuple[Path, list[str]]:
        clone = self.work / name
        sh(["git", "clone", "-q", "--no-checkout", str(self.origin), str(clone)], self.work, self.env)
        sh(["git", "checkout", "-q", "-b", f"feature-{k}", f"origin/feature-{k}"], clone, self.env)
        sh(["git", "branch", "-q", f"main-{k}", f"origin/main-{k}"], clone, self.env)
        proc = sh(["git", "rebase", f"main-{k}"], clone, self.env, check=False)
        assert proc.returncode != 0, "the rebase was expected to stop on conflicts"
        unmerged = sh(["git", "diff", "--name-only", "--diff-filter=U"], clone, self.env).stdout.split()
        pkgs = sorted({p.rsplit("/", 1)[0] for p in unmerged})
        assert len(pkgs) == k and len(unmerged) == 2 * k, unmerged
        return clone, pkgs

    def run_lockfix(self, clone: Path) -> float:
        t0 = time.perf_counter()
        sh([sys.executable, "-m", "lockfix", "run", "--quiet"], clone, self.env)
        return time.perf_counter() - t0

    def run_loop(self, clone: Path, pkgs: list[str]) -> float:
        for p in pkgs:  # the files lockfix hands Poetry; untimed
            for name, merge in (("pyproject.toml", merge_manifest), ("poetry.lock", merge_locks)):
                stages = [sh(["git", "show", f":{n}:{p}/{name}"], clone, self.env).stdout for n in (1, 2, 3)]
                (clone / p / name).write_text(merge(*stages).text)  # type: ignore[operator]
        t0 = time.perf_counter()
        for p in pkgs:
            sh(self.lock_cmd, clone / p, self.env)
        return time.perf_counter() - t0

    def measure(self, k: int, rounds: int) -> dict[str, float]:
        ours: list[float] = []
        loop: list[float] = []
        for r in range(rounds):
            a, pkgs = self.conflicted_clone(k, f"k{k}-r{r}-lockfix")
            b, _ = self.conflicted_clone(k, f"k{k}-r{r}-loop")
            if r % 2:
                loop.append(self.run_loop(b, pkgs))
                ours.append(self.run_lockfix(a))
            else:
                ours.append(self.run_lockfix(a))
                loop.append(self.run_loop(b, pkgs))
            for p in pkgs:
                assert (a / p / "poetry.lock").read_text() == (b / p / "poetry.lock").read_text(), p
                assert "six" in (a / p / "pyproject.toml").read_text()
                assert "structlog" in (a / p / "pyproject.toml").read_text()
            shutil.rmtree(a)
            shutil.rmtree(b)
        o, s = statistics.median(ours), statistics.median(loop)
        return {"lockfix": o, "loop": s, "ratio": s / o, "min": min(ours), "max": max(ours)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--counts", default="1,4,8,16", help="numbers of conflicted packages")
    ap.add_argument("--plain-poetry", action="store_true",
                    help="LOCKFIX_POETRY_SERVER=0: lockfix runs one `poetry lock` process per package")
    ap.add_argument("--poetry", action="append", default=None,
                    help="Poetry executable (repeatable); default .tools/poetry-*")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    poetries = args.poetry or [str(p) for p in sorted(ROOT.glob(".tools/poetry-*/bin/poetry"), reverse=True)]
    print(f"{os.cpu_count()} cores; `lockfix run` default jobs; medians of {args.rounds} rounds")
    print(f"{'Poetry':<14} {'conflicted':>10} {'sequential loop':>16} {'lockfix run':>12} {'speed-up':>9}")
    for path in poetries:
        bench = Bench(path, args.plain_poetry)
        try:
            bench.build(counts)
            for k in counts:
                r = bench.measure(k, args.rounds)
                print(f"{Path(path).parents[1].name:<14} {k:>10} {r['loop']:>15.2f}s "
                      f"{r['lockfix']:>11.2f}s {r['ratio']:>8.2f}x", flush=True)
        finally:
            bench.close()


if __name__ == "__main__":
    main()
