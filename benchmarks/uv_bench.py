"""uv: what lockfix adds on top of ``uv lock``, and what ``lockfix run`` saves.

``uv lock`` itself takes a few hundred milliseconds, so lockfix's own start-up is what a uv
user feels. Two measurements, each side by side in one run on one machine:

* **driver**: the wall time of the ``lockfix merge-driver`` process git runs for
  ``uv.lock`` (timed from outside, interpreter start-up included) during ``git merge
  feature`` in a fresh clone with the driver installed, against a bare ``uv lock`` in a
  copy of the merged result whose lock is lockfix's preferred lock (exactly the uv work
  the driver asks for). Target (issue 9): the driver within 1.3x of bare ``uv lock``.
* **run**: ``lockfix run`` after a merge that stopped with K conflicted per-package
  ``uv.lock`` files, against the sequential ``for p in ...; do (cd $p && uv lock); done``
  loop over exactly the files lockfix hands uv (merged pyproject, preferred lock), written
  untimed. Target: at least 1.5x faster at K = 8, locks identical.

Both use one private uv cache (warm) and the benchmark's own index on 127.0.0.1. Run:

    .venv/bin/python benchmarks/uv_bench.py [--rounds 7] [--uv PATH ...]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, clone_with_timed_driver, driver_times, sh

from lockfix.backends.uv.lock import merge_locks
from lockfix.backends.uv.tool import find_uv
from lockfix.localindex import DEFAULT_UNIVERSE, PackageIndex
from lockfix.manifest import merge_manifest
from lockfix.sandbox import git_sandbox, offline

SERVICES = ["requests>=2.30", "fastapi>=0.104", "celery>=5.3", "httpx>=0.25", "rich>=13",
            "pydantic>=2", "redis>=5", "structlog>=23", "anyio>=3", "click>=8", "pytest>=7",
            "markdown-it-py>=3", "starlette>=0.27", "attrs>=23", "packaging>=23", "six>=1.16"]


def project(name: str, deps: list[str]) -> str:
    listed = "".join(f'    "{d}",\n' for d in deps)
    return (f'[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = ">=3.9"\n'
            f"dependencies = [\n{listed}]\n")


def add(path: Path, requirement: str) -> None:
    text = path.read_text()
    path.write_text(text.replace("dependencies = [\n", f'dependencies = [\n    "{requirement}",\n', 1))


def env_for(work: Path, uv: Path, index_url: str) -> dict[str, str]:
    import os

    return {**{k: v for k, v in os.environ.items() if not k.startswith(("UV_", "GIT_", "LOCKFIX_"))},
            "UV_CACHE_DIR": str(work / "uv-cache"), "UV_DEFAULT_INDEX": index_url,
            "XDG_CONFIG_HOME": str(work / "config"), "UV_PYTHON_DOWNLOADS": "never",
            "LOCKFIX_UV": str(uv), **git_sandbox(work), **offline()}


def origin_repo(work: Path, dirs: list[str], env: dict[str, str], uv: list[str]) -> Path:
    """Packages ``dirs`` (one per service), both branches adding a dependency to each."""
    origin = work / "origin"
    origin.mkdir()
    sh(["git", "init", "-q", "-b", "main"], origin, env)
    for i, d in enumerate(dirs):
        (origin / d).mkdir(parents=True)
        text = project(d.replace("/", "-"), [SERVICES[i % len(SERVICES)]])
        (origin / d / "pyproject.toml").write_text(text)
        sh(uv, origin / d, env)
    sh(["git", "add", "-A"], origin, env)
    sh(["git", "commit", "-qm", "base"], origin, env)
    for branch, dep in (("feature", "six>=1.16"), ("main", "attrs>=23")):
        sh(["git", "checkout", "-q", *(["-b"] if branch == "feature" else []), branch], origin, env)
        for d in dirs:
            add(origin / d / "pyproject.toml", dep)
            sh(uv, origin / d, env)
        sh(["git", "commit", "-qam", f"{branch}: {dep}"], origin, env)
    return origin


def merged_copy(clone: Path, dest: Path, dirs: list[str], env: dict[str, str]) -> None:
    """What lockfix hands uv, per package: the merged manifest and the preferred lock."""
    base = sh(["git", "merge-base", "main", "feature"], clone, env).stdout.strip()
    for d in dirs:
        (dest / d).mkdir(parents=True)
        for name, merge in (("pyproject.toml", lambda *s: merge_manifest(*s).text),
                            ("uv.lock", lambda *s: merge_locks(*s).text)):
            sides = [sh(["git", "show", f"{rev}:{d}/{name}"], clone, env).stdout
                     for rev in (base, "main", "feature")]
            (dest / d / name).write_text(merge(*sides))


def bench_driver(uv_path: str, rounds: int) -> dict[str, float]:
    uv = find_uv(uv_path)
    work = Path(tempfile.mkdtemp(prefix="lockfix-uvbench-"))
    index = PackageIndex()
    index.add_many(DEFAULT_UNIVERSE)
    env = env_for(work, uv.executable, index.url)
    try:
        origin = origin_repo(work, ["app"], env, uv.argv())
        driver, bare_times, merges = [], [], []
        for i in range(rounds):
            clone = work / f"clone-{i}"
            clone_with_timed_driver(origin, clone, env, work / "times")
            bare = work / f"bare-{i}"
            merged_copy(clone, bare, ["app"], env)
            runs = [("driver", clone), ("bare", bare / "app")]
            if i % 2:
                runs.reverse()
            for what, where in runs:
                t0 = time.perf_counter()
                if what == "bare":
                    sh(uv.argv(), where, env)
                    bare_times.append(time.perf_counter() - t0)
                else:
                    sh(["git", "merge", "--no-edit", "-q", "feature"], where, env)
                    merges.append(time.perf_counter() - t0)
                    driver.append(driver_times(work / "times")["app/uv.lock"])
            assert (bare / "app" / "uv.lock").read_text() == (clone / "app" / "uv.lock").read_text()
            assert sh([*uv.argv(), "--check"], clone / "app", env).returncode == 0
        d, b, m = statistics.median(driver), statistics.median(bare_times), statistics.median(merges)
        return {"bare": b, "driver": d, "ratio": d / b, "merge": m}
    finally:
        index.stop()
        shutil.rmtree(work, ignore_errors=True)


def bench_run(uv_path: str, packages: int, rounds: int, jobs: int | None = None) -> dict[str, float]:
    uv = find_uv(uv_path)
    work = Path(tempfile.mkdtemp(prefix="lockfix-uvbench-"))
    index = PackageIndex()
    index.add_many(DEFAULT_UNIVERSE)
    env = env_for(work, uv.executable, index.url)
    dirs = [f"services/s{i:02d}" for i in range(packages)]
    try:
        origin = origin_repo(work, dirs, env, uv.argv())
        loop, runs = [], []
        for i in range(rounds):
            clone = work / f"clone-{i}"
            sh(["git", "clone", "-q", str(origin), str(clone)], work, env)
            sh(["git", "branch", "-q", "feature", "origin/feature"], clone, env)
            sh(["git", "merge", "--no-edit", "-q", "feature"], clone, env, check=False)
            bare = work / f"bare-{i}"
            merged_copy(clone, bare, dirs, env)
            order = ["loop", "run"] if i % 2 == 0 else ["run", "loop"]
            for what in order:
                t0 = time.perf_counter()
                if what == "loop":
                    for d in dirs:
                        sh(uv.argv(), bare / d, env)
                    loop.append(time.perf_counter() - t0)
                else:
                    sh([sys.executable, "-m", "lockfix", "run", "-q",
                        *(["--jobs", str(jobs)] if jobs else [])], clone, env)
                    runs.append(time.perf_counter() - t0)
            for d in dirs:
                assert (bare / d / "uv.lock").read_text() == (clone / d / "uv.lock").read_text(), d
        lp, r = statistics.median(loop), statistics.median(runs)
        return {"loop": lp, "run": r, "speedup": lp / r}
    finally:
        index.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--packages", type=int, action="append", default=None,
                    help="conflicted packages for the run benchmark (repeatable; default 1, 4, 8)")
    ap.add_argument("--uv", action="append", default=None, help="uv executable (repeatable)")
    ap.add_argument("--jobs", type=int, default=None, help="lockfix run --jobs (default: its own)")
    ap.add_argument("--only", choices=["driver", "run"], default=None)
    args = ap.parse_args()
    uvs = args.uv or [str(p) for p in sorted(ROOT.glob(".tools/uv-*/bin/uv"), reverse=True)]
    print(f"driver: {'':<10} {'uv lock alone':>13} {'lock driver':>12} {'ratio':>6} "
          f"{'whole git merge':>16}   (medians of {args.rounds})")
    for path in uvs if args.only != "run" else []:
        r = bench_driver(path, args.rounds)
        print(f"        {Path(path).parents[1].name:<10} {r['bare']:>12.3f}s {r['driver']:>11.3f}s "
              f"{r['ratio']:>5.2f}x {r['merge']:>15.3f}s")
    print(f"\nrun:    {'':<10} {'K':>3} {'uv lock loop':>13} {'lockfix run':>12} {'speedup':>8}")
    for path in uvs if args.only != "driver" else []:
        for k in args.packages or [1, 4, 8]:
            r = bench_run(path, k, args.rounds, args.jobs)
            print(f"        {Path(path).parents[1].name:<10} {k:>3} {r['loop']:>12.2f}s "
                  f"{r['run']:>11.2f}s {r['speedup']:>7.2f}x")


if __name__ == "__main__":
    main()
