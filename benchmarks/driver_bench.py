"""How much time does the merge driver add on top of Poetry itself?

Issue 3's target: lockfix's own overhead stays under 15% of Poetry's time. Measured side
by side in one run, on one machine, against the same merged package:

* the lock driver: wall time of the ``lockfix merge-driver`` process git runs for
  ``poetry.lock`` (timed from outside, interpreter start-up included), during
  ``git merge feature`` in a fresh clone with the driver installed;
* the whole ``git merge``: the stricter figure, which adds git's own work and the
  separate driver process git runs for ``pyproject.toml``;
* Poetry alone: the relock the manual recipe runs, ``poetry lock [--no-update]`` in a
  copy of the merged result whose lock is lockfix's preferred lock, i.e. exactly the
  Poetry work the driver asks for, without anything lockfix does around it.

Both run with the same isolated Poetry config/cache (warm) and POETRY_VIRTUALENVS_CREATE=
false, so a venv build does not land on one side only. Run:

    .venv/bin/python benchmarks/driver_bench.py [--rounds 7] [--poetry PATH ...]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import (
    ROOT,
    add_dependency,
    bench_env,
    clone_with_timed_driver,
    driver_times,
    pyproject_text,
    sh,
)

from lockfix.backends.poetry.lock import merge_locks
from lockfix.backends.poetry.tool import find_poetry, relock_args
from lockfix.localindex import DEFAULT_UNIVERSE, PackageIndex
from lockfix.manifest import merge_manifest


def bench(poetry_path: str, rounds: int, trace: bool = False) -> dict[str, float]:
    poetry = find_poetry(poetry_path)
    work = Path(tempfile.mkdtemp(prefix="lockfix-bench-"))
    index = PackageIndex()
    index.add_many(DEFAULT_UNIVERSE)
    env = bench_env(work, poetry)
    lock = [str(poetry.executable), *relock_args(poetry.version)]
    try:
        origin = work / "origin"
        (origin / "app").mkdir(parents=True)
        (origin / "app" / "__init__.py").write_text("")
        (origin / "pyproject.toml").write_text(
            pyproject_text("app", {"requests": "^2.30", "fastapi": "^0.104"}, False, index.url))
        sh(["git", "init", "-q", "-b", "main"], origin, env)
        sh(lock, origin, env)
        sh(["git", "add", "-A"], origin, env)
        sh(["git", "commit", "-qm", "base"], origin, env)
        sh(["git", "checkout", "-qb", "feature"], origin, env)
        add_dependency(origin, "click", "^8.1")
        sh(lock, origin, env)
        sh(["git", "commit", "-qam", "click"], origin, env)
        sh(["git", "checkout", "-q", "main"], origin, env)
        add_dependency(origin, "attrs", "^23.1")
        sh(lock, origin, env)
        sh(["git", "commit", "-qam", "attrs"], origin, env)

        per_file: list[float] = []
        poetry_times: list[float] = []
        merge_times: list[float] = []
        for i in range(rounds):
            clone = work / f"clone-{i}"
            clone_with_timed_driver(origin, clone, env, work / "driver-times")
            # Poetry alone, on the same merged package: the merged pyproject.toml and the
            # preferred lock lockfix builds, in a plain directory
            bare = work / f"bare-{i}"
            bare.mkdir()
            (bare / "app").mkdir()
            (bare / "app" / "__init__.py").write_text("")
            base = sh(["git", "merge-base", "main", "feature"], clone, env).stdout.strip()
            sides = {f: [sh(["git", "show", f"{rev}:{f}"], clone, env).stdout
                         for rev in (base, "main", "feature")] for f in ("pyproject.toml", "poetry.lock")}
            (bare / "pyproject.toml").write_text(merge_manifest(*sides["pyproject.toml"]).text)
            (bare / "poetry.lock").write_text(merge_locks(*sides["poetry.lock"]).text)
            # alternate the order so neither side always runs with the warmer cache
            runs = [("driver", clone), ("poetry", bare)]
            if i % 2:
                runs.reverse()
            for what, where in runs:
                t0 = time.perf_counter()
                if what == "poetry":
                    sh(lock, where, env)
                    poetry_times.append(time.perf_counter() - t0)
                else:
                    merged = sh(["git", "merge", "--no-edit", "-q", "feature"], where,
                                {**env, "LOCKFIX_DEBUG": "1"} if trace and i == rounds - 1 else env)
                    merge_times.append(time.perf_counter() - t0)
                    if trace and i == rounds - 1:
                        print(merged.stderr, file=sys.stderr)
                    per_file.append(driver_times(work / "driver-times")["poetry.lock"])
            assert (bare / "poetry.lock").read_text() == (clone / "poetry.lock").read_text()
            ok = sh([str(poetry.executable), "check", "--lock"], clone, env)
            assert ok.returncode == 0
        d, p = statistics.median(per_file), statistics.median(poetry_times)
        m = statistics.median(merge_times)
        return {"poetry": p, "driver": d, "overhead": d - p, "ratio": (d - p) / p,
                "merge": m, "merge_ratio": (m - p) / p}
    finally:
        index.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--trace", action="store_true",
                    help="print the drivers' LOCKFIX_DEBUG trace of the last round")
    ap.add_argument("--poetry", action="append",
                    default=None, help="Poetry executable (repeatable); default .tools/poetry-*")
    args = ap.parse_args()
    poetries = args.poetry or [str(p) for p in sorted(ROOT.glob(".tools/poetry-*/bin/poetry"), reverse=True)]
    print(f"{'':<14} {'Poetry alone':>12} {'lock driver':>12} {'overhead':>9} "
          f"{'whole git merge':>16} {'overhead':>9}   (medians of {args.rounds})")
    for path in poetries:
        r = bench(path, args.rounds, args.trace)
        label = Path(path).parents[1].name
        print(f"{label:<14} {r['poetry']:>11.2f}s {r['driver']:>11.2f}s {r['ratio']:>9.1%} "
              f"{r['merge']:>15.2f}s {r['merge_ratio']:>9.1%}")


if __name__ == "__main__":
    main()
