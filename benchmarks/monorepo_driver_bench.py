"""A monorepo merge through the driver, against plain ``git merge`` + ``lockfix run``.

Issue 12's target: on core + 8 services, where both branches changed core and 4 services,
``git merge`` with the driver installed takes at most 1.3x the time of a plain ``git
merge`` followed by ``lockfix run``, on both Poetry lines, with identical locks. Measured
side by side in one run, each flow in its own fresh clone:

* a monorepo in a real git repository: ``packages/core`` (requests) and N services, each
  with a path dependency on core (``develop = true``) and 1-2 registry dependencies, all
  locked by real Poetry against a package index on 127.0.0.1;
* branch ``feature`` adds ``six`` and branch ``main`` adds ``structlog`` to core (in the
  headline case) and to the first K services; each branch then relocks every package
  whose lock changed (core's change reaches every service's lock, which records core's
  requirements), as a careful developer or ``lockfix run`` leaves it. ``git merge
  feature`` on ``main`` then conflicts in core's ``pyproject.toml`` and ``poetry.lock``,
  K services' ``pyproject.toml`` and every service's ``poetry.lock``;
* **driver**: ``git merge feature`` in a clone where ``lockfix install`` registered the
  driver, timed from outside (git, every driver process, the merge commit);
* **merge + run**: plain ``git merge feature`` (it stops with conflicts) then
  ``lockfix run``, both timed, summed;
* **loop** (``--loop``): plain ``git merge``, then every package gets exactly the files
  lockfix hands Poetry (written untimed), then ``poetry lock`` in each package, core first;
* the locks of every package must be byte-identical between the flows.

Shapes: the headline (core + 8 services, core and 4 services changed), then the growth
with 1, 4, 8, 16 conflicted services in core + 16 services where core is unchanged (so
exactly K packages conflict). Same warm, isolated Poetry cache and
``POETRY_VIRTUALENVS_CREATE=false`` for all flows; order alternates per round. Run:

    .venv/bin/python benchmarks/monorepo_driver_bench.py [--rounds 5] [--growth 1,4,8,16]
        [--loop] [--poetry PATH ...]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from common import ROOT, add_dependency, bench_env, pyproject_text, sh

from lockfix.backends.poetry.lock import merge_locks
from lockfix.backends.poetry.tool import find_poetry, relock_args
from lockfix.localindex import DEFAULT_UNIVERSE, PackageIndex
from lockfix.manifest import merge_manifest

FLAVOURS = [{"fastapi": "^0.104"}, {"celery": "^5.3"}, {"rich": "^13.6"},
            {"httpx": "^0.25", "click": "^8.1"}, {"pytest": "^7.4"}, {"pydantic": "^2.5"}]
CORE = "packages/core"


def service(i: int) -> str:
    return f"packages/svc-{i:02d}"


@dataclass(frozen=True)
class Shape:
    services: int  # services in the repository
    changed: int  # services both branches change
    core: bool  # whether both branches change core too

    @property
    def name(self) -> str:
        return (f"core + {self.changed} of {self.services} services" if self.core
                else f"{self.changed} of {self.services} services")


class Bench:
    def __init__(self, poetry_path: str) -> None:
        self.poetry = find_poetry(str(Path(poetry_path).resolve()))
        self.work = Path(tempfile.mkdtemp(prefix="lockfix-monobench-"))
        self.index = PackageIndex()
        self.index.add_many(DEFAULT_UNIVERSE)
        self.env = bench_env(self.work, self.poetry)
        self.lock_cmd = [str(self.poetry.executable), *relock_args(self.poetry.version)]
        self.clones = 0

    def close(self) -> None:
        self.index.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    def relock(self, repo: Path, pkgs: list[str]) -> None:
        if CORE in pkgs:
            sh(self.lock_cmd, repo / CORE, self.env)
        with ThreadPoolExecutor(2) as pool:  # set-up only: not measured
            list(pool.map(lambda p: sh(self.lock_cmd, repo / p, self.env),
                          [p for p in pkgs if p != CORE]))

    def build(self, shape: Shape) -> Path:
        repo = self.work / f"origin-{shape.services}-{shape.changed}-{int(shape.core)}"
        (repo / CORE / "core").mkdir(parents=True)
        (repo / CORE / "core/__init__.py").write_text("")
        (repo / CORE / "pyproject.toml").write_text(
            pyproject_text("core", {"requests": "^2.30"}, False, self.index.url))
        services = [service(i) for i in range(1, shape.services + 1)]
        for i, p in enumerate(services, 1):
            (repo / p / f"svc_{i:02d}").mkdir(parents=True)
            (repo / p / f"svc_{i:02d}" / "__init__.py").write_text("")
            (repo / p / "pyproject.toml").write_text(
                pyproject_text(f"svc-{i:02d}", FLAVOURS[i % len(FLAVOURS)], True, self.index.url))
        sh(["git", "init", "-q", "-b", "main"], repo, self.env)
        self.relock(repo, [CORE, *services])
        sh(["git", "add", "-A"], repo, self.env)
        sh(["git", "commit", "-qm", "base"], repo, self.env)
        changed = services[: shape.changed]
        for branch, dep, constraint in (("feature", "six", "^1.16"), ("main", "structlog", "^23.2")):
            # feature starts from the base commit on main; main then moves on
            sh(["git", "checkout", "-q", *(["-b", branch] if branch == "feature" else [branch])],
               repo, self.env)
            for p in ([CORE] if shape.core else []) + changed:
                add_dependency(repo / p, dep, constraint)
            self.relock(repo, [CORE, *services] if shape.core else changed)
            sh(["git", "commit", "-qam", f"{branch}: {dep}"], repo, self.env)
        return repo

    def clone(self, origin: Path, driver: bool) -> Path:
        self.clones += 1
        clone = self.work / f"clone-{self.clones}"
        sh(["git", "clone", "-q", str(origin), str(clone)], self.work, self.env)
        sh(["git", "branch", "-q", "feature", "origin/feature"], clone, self.env)
        if driver:
            sh([sys.executable, "-m", "lockfix", "install", "--attributes-file", "info"],
               clone, self.env)
        return clone

    def merge(self, clone: Path, expect_clean: bool) -> float:
        t0 = time.perf_counter()
        proc = sh(["git", "merge", "-q", "--no-edit", "feature"], clone, self.env, check=False)
        seconds = time.perf_counter() - t0
        if (proc.returncode == 0) != expect_clean:
            raise SystemExit(f"git merge exited {proc.returncode} in {clone}:\n{proc.stderr}")
        return seconds

    def driver_flow(self, origin: Path) -> tuple[Path, float]:
        clone = self.clone(origin, driver=True)
        return clone, self.merge(clone, expect_clean=True)

    def run_flow(self, origin: Path) -> tuple[Path, float]:
        clone = self.clone(origin, driver=False)
        merged = self.merge(clone, expect_clean=False)
        t0 = time.perf_counter()
        sh([sys.executable, "-m", "lockfix", "run", "--quiet"], clone, self.env)
        return clone, merged + time.perf_counter() - t0

    def loop_flow(self, origin: Path, pkgs: list[str]) -> tuple[Path, float]:
        clone = self.clone(origin, driver=False)
        merged = self.merge(clone, expect_clean=False)
        unmerged = set(sh(["git", "diff", "--name-only", "--diff-filter=U"], clone,
                          self.env).stdout.split())
        for p in pkgs:  # the files lockfix hands Poetry; untimed
            for name, merge in (("pyproject.toml", merge_manifest), ("poetry.lock", merge_locks)):
                if f"{p}/{name}" in unmerged:
                    stages = [sh(["git", "show", f":{n}:{p}/{name}"], clone, self.env).stdout
                              for n in (1, 2, 3)]
                    (clone / p / name).write_text(merge(*stages).text)  # type: ignore[operator]
        t0 = time.perf_counter()
        for p in pkgs:
            sh(self.lock_cmd, clone / p, self.env)
        return clone, merged + time.perf_counter() - t0

    def measure(self, shape: Shape, rounds: int, loop: bool) -> dict[str, object]:
        origin = self.build(shape)
        pkgs = ([CORE] if shape.core else []) + [
            service(i) for i in range(1, (shape.services if shape.core else shape.changed) + 1)]
        times: dict[str, list[float]] = {"driver": [], "run": [], "loop": []}
        flows = [("driver", self.driver_flow), ("run", self.run_flow)]
        for r in range(rounds):
            clones: dict[str, Path] = {}
            order = flows if r % 2 == 0 else flows[::-1]
            for name, flow in order:
                clones[name], seconds = flow(origin)
                times[name].append(seconds)
            if loop:
                clones["loop"], seconds = self.loop_flow(origin, pkgs)
                times["loop"].append(seconds)
            for p in [CORE] + [service(i) for i in range(1, shape.services + 1)]:
                locks = {n: (c / p / "poetry.lock").read_text() for n, c in clones.items()}
                assert len(set(locks.values())) == 1, f"{p}: locks differ between {sorted(locks)}"
            for c in clones.values():
                shutil.rmtree(c)
        med = {n: statistics.median(v) for n, v in times.items() if v}
        return {"median": med, "min": {n: min(v) for n, v in times.items() if v},
                "max": {n: max(v) for n, v in times.items() if v},
                "conflicted": len(pkgs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--growth", default="1,4,8,16",
                    help="numbers of conflicted services (core unchanged); empty: none")
    ap.add_argument("--no-headline", action="store_true", help="skip core + 4 of 8 services")
    ap.add_argument("--loop", action="store_true",
                    help="also time the sequential `poetry lock` loop (slow)")
    ap.add_argument("--poetry", action="append", default=None,
                    help="Poetry executable (repeatable); default .tools/poetry-*")
    args = ap.parse_args()
    shapes = [] if args.no_headline else [Shape(8, 4, True)]
    shapes += [Shape(16, int(k), False) for k in args.growth.split(",") if k]
    poetries = args.poetry or [str(p) for p in
                               sorted(ROOT.glob(".tools/poetry-*/bin/poetry"), reverse=True)]
    print(f"medians of {args.rounds} rounds (min-max); locks identical across flows")
    print(f"{'Poetry':<13} {'shape':<26} {'relocks':>7} {'driver merge':>18} "
          f"{'merge + run':>18} {'ratio':>6}" + (f" {'loop':>7}" if args.loop else ""))
    for path in poetries:
        bench = Bench(path)
        try:
            for shape in shapes:
                r = bench.measure(shape, args.rounds, args.loop)
                med, lo, hi = r["median"], r["min"], r["max"]
                assert isinstance(med, dict) and isinstance(lo, dict) and isinstance(hi, dict)
                span = {n: f"{med[n]:.2f}s ({lo[n]:.1f}-{hi[n]:.1f})" for n in med}
                print(f"{Path(path).parents[1].name:<13} {shape.name:<26} {r['conflicted']:>7} "
                      f"{span['driver']:>18} {span['run']:>18} {med['driver'] / med['run']:>5.2f}x"
                      + (f" {med['loop']:>6.2f}s" if args.loop else ""), flush=True)
        finally:
            bench.close()


if __name__ == "__main__":
    main()
