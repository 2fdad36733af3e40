"""Benchmark of native uv.lock freshness (issue 10) against a ``uv lock --check`` loop.

    .venv/bin/python benchmarks/uv_check_bench.py                # ~1-2 minutes
    .venv/bin/python benchmarks/uv_check_bench.py --runs 7 --sample 10

What it builds, in a temporary directory (no git: ``lockfix check`` is not wired to uv
yet, so this calls :func:`lockfix.backends.uv.freshness.freshness` directly):

* a local package index (``lockfix.localindex``) holding the test universe plus
  ``--registry`` synthetic projects ``dep-000`` ..., served on 127.0.0.1;
* ``--packages`` uv projects ``packages/lib-00`` ... (the first 20) and
  ``packages/app-000`` ...; every package depends on all registry projects, every app on
  one library by path (``[tool.uv.sources] lib-NN = { path = "../lib-NN", editable =
  true }``), so each ``uv.lock`` has ~100 ``[[package]]`` entries. Two locks are written
  by real uv (0.13.8 from ``.tools/``), one library and one app; the others are copies
  with the names changed, which real ``uv lock --check`` accepts (verified on the
  sample, exit 0 everywhere);
* the same tree with *heavy* locks: every registry entry given an sdist and 8 wheels (the
  size of real PyPI locks, ~8x the bytes), for lockfix only, since those files do not
  exist on the index.

What it measures:

* lockfix: a fresh Python process that reads the 200 pyprojects and the 200 locks and
  judges every lock (imports included), wall time median of ``--runs`` runs, CPU time and
  peak RSS from ``os.wait4``; also the in-process judging time alone;
* ``uv lock --check`` in ``--sample`` packages (warm cache, the local index), median per
  package, extrapolated to all packages;
* a stale sanity check: one library gains a dependency; lockfix must flag exactly the
  library and its dependents, and uv must reject the lock of one of those dependents.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
# measure lockfix as installed, byte-compiled: under PYTHONDONTWRITEBYTECODE an editable
# install would recompile every module in every judging process (~0.1 s)
compileall.compile_dir(ROOT / "src" / "lockfix", quiet=1)

from lockfix.localindex import DEFAULT_UNIVERSE, PackageIndex  # noqa: E402

LIBRARIES = 20
BUILD = '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
COMMON = ["requests>=2.30", "click>=8.1", "rich", "pytest>=7", "attrs; python_version >= '3.9'"]

# The judging run, executed in a fresh interpreter so that imports and start-up count.
JUDGE = r"""
import sys, time, os
t0 = time.perf_counter()
from pathlib import Path
from lockfix.toml import load_toml
from lockfix.backends.uv import freshness as module
from lockfix.backends.uv.freshness import freshness
root = Path(sys.argv[1])
cold = sys.argv[2:] == ["cold"]
caches = [f for f in vars(module).values() if hasattr(f, "cache_clear")]
manifests = {}
dirs = [""] if (root / "pyproject.toml").exists() else []
dirs += sorted(f"packages/{p.name}" for p in (root / "packages").iterdir())
for rel in dirs:
    manifests[rel] = load_toml((root / rel / "pyproject.toml").read_text(), rel)
t1 = time.perf_counter()
stale = []
locks = [rel for rel in dirs if (root / rel / "uv.lock").exists()]
for rel in locks:
    if cold:  # every lock pays for parsing every requirement and marker again
        for f in caches:
            f.cache_clear()
    verdict = freshness((root / rel / "uv.lock").read_text(), rel, manifests)
    if not verdict.fresh:
        stale.append(rel)
t2 = time.perf_counter()
print(f"{len(locks)} {t1 - t0:.4f} {t2 - t1:.4f} {','.join(s or '.' for s in stale)}")
"""


def uv_path() -> Path:
    found = sorted(ROOT.glob(".tools/uv-0.13.*/bin/uv"))
    if not found:
        raise SystemExit("uv 0.13.x not found in .tools/ (run ./dev setup)")
    return found[-1]


def uv_env(work: Path, index_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
    env.update(
        UV_CACHE_DIR=str(work / "uv-cache"),
        UV_NO_CONFIG="1",
        UV_PYTHON_DOWNLOADS="never",
        UV_DEFAULT_INDEX=index_url,
        HOME=str(work / "home"),
    )
    return env


def pyproject(name: str, registry: int, lib: str | None, workspace: bool = False) -> str:
    deps = [*COMMON, *(f"dep-{i:03d}>=1.0" for i in range(registry))]
    if lib:
        deps.append(lib)
    body = "".join(f'    "{d}",\n' for d in deps)
    text = (
        f'[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = ">=3.9"\n'
        f"dependencies = [\n{body}]\n\n"
    )
    if lib and not workspace:
        text += f'[tool.uv.sources]\n{lib} = {{ path = "../{lib}", editable = true }}\n\n'
    return text + BUILD


def lib_name(i: int) -> str:
    return f"lib-{i:02d}"


def app_name(i: int) -> str:
    return f"app-{i:03d}"


def heavy(lock: str) -> str:
    """Every registry entry with an sdist and 8 wheels, as PyPI locks have."""

    def files(m: re.Match[str]) -> str:
        name, version = m.group(1), m.group(2)
        stem = name.replace("-", "_")
        sdist = (
            f'sdist = {{ url = "https://files.example.invalid/{stem}-{version}.tar.gz", '
            f'hash = "sha256:{"ab" * 32}", size = 123456, upload-time = "2024-01-01T00:00:00Z" }}\n'
        )
        wheels = "".join(
            f'    {{ url = "https://files.example.invalid/{stem}-{version}-cp3{w}-cp3{w}-'
            f'manylinux_2_17_x86_64.whl", hash = "sha256:{"cd" * 32}", size = 234567, '
            f'upload-time = "2024-01-01T00:00:00Z" }},\n'
            for w in range(8)
        )
        return f"{m.group(0)}{sdist}wheels = [\n{wheels}]\n"

    lock = re.sub(r"^wheels = \[\n(?:    .*\n)*\]\n", "", lock, flags=re.MULTILINE)
    lock = re.sub(r"^sdist = .*\n", "", lock, flags=re.MULTILINE)
    return re.sub(
        r'^name = "([^"]+)"\nversion = "([^"]+)"\nsource = \{ registry = .*\}\n'
        r"(?:dependencies = \[\n(?:    .*\n)*\]\n)?",
        files,
        lock,
        flags=re.MULTILINE,
    )


def build(work: Path, packages: int, registry: int, index: PackageIndex, uv: Path) -> Path:
    """The tree with real-uv-written template locks copied under every package's name."""
    tree = work / "tree"
    env = uv_env(work, index.url)
    libs = min(LIBRARIES, packages)
    names = [lib_name(i) for i in range(libs)] + [app_name(i) for i in range(packages - libs)]
    for i, name in enumerate(names):
        lib = None if i < libs else lib_name(i % libs)
        d = tree / "packages" / name
        d.mkdir(parents=True)
        (d / "pyproject.toml").write_text(pyproject(name, registry, lib))
    templates: dict[str, str] = {}
    for template in (lib_name(0), app_name(0)):
        if (tree / "packages" / template).exists():
            proc = subprocess.run(
                [str(uv), "lock"],
                cwd=tree / "packages" / template,
                env=env,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise SystemExit(f"uv lock failed in {template}:\n{proc.stderr}")
            templates[template] = (tree / "packages" / template / "uv.lock").read_text()
    for i, name in enumerate(names):
        if i < libs:
            text = templates[lib_name(0)].replace(f'"{lib_name(0)}"', f'"{name}"')
        else:
            lib = lib_name(i % libs)
            text = templates[app_name(0)].replace(f'"{app_name(0)}"', f'"{name}"')
            text = text.replace(f'"{lib_name(0)}"', f'"{lib}"').replace(f'"../{lib_name(0)}"', f'"../{lib}"')
        (tree / "packages" / name / "uv.lock").write_text(text)
    return tree


def build_workspace(work: Path, packages: int, registry: int, index: PackageIndex, uv: Path) -> float:
    """One workspace of ``packages`` members (libraries and apps as in :func:`build`,
    depending on each other through ``{ workspace = true }``), locked once by real uv;
    returns how long that ``uv lock`` took."""
    tree = work / "workspace"
    libs = min(LIBRARIES, packages)
    names = [lib_name(i) for i in range(libs)] + [app_name(i) for i in range(packages - libs)]
    for i, name in enumerate(names):
        lib = None if i < libs else lib_name(i % libs)
        d = tree / "packages" / name
        d.mkdir(parents=True)
        (d / "pyproject.toml").write_text(pyproject(name, registry, lib, workspace=True))
    sources = "".join(f"{lib_name(i)} = {{ workspace = true }}\n" for i in range(libs))
    (tree / "pyproject.toml").write_text(
        f'[tool.uv.workspace]\nmembers = ["packages/*"]\n\n[tool.uv.sources]\n{sources}'
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [str(uv), "lock"], cwd=tree, env=uv_env(work, index.url), capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"uv lock failed in the workspace:\n{proc.stderr}")
    return time.perf_counter() - start


def judge(tree: Path, cold: bool = False) -> tuple[float, float, float, float, float, list[str]]:
    """(wall, cpu, peak MB, read+parse pyprojects s, judge locks s, stale dirs) of one
    fresh process; ``cold`` empties the parsing caches before each lock."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", JUDGE, str(tree), *(["cold"] if cold else [])],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    assert proc.stdout is not None
    out = proc.stdout.read().split()
    if status != 0:
        raise SystemExit(f"judge failed: {out}")
    stale = [s if s != "." else "" for s in out[3].split(",")] if len(out) > 3 else []
    return (
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        float(out[1]),
        float(out[2]),
        stale,
    )


def uv_check(uv: Path, directory: Path, env: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(
        [str(uv), "lock", "--check"], cwd=directory, env=env, capture_output=True, text=True
    )
    return time.perf_counter() - start, proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packages", type=int, default=200)
    parser.add_argument(
        "--registry", type=int, default=85, help="synthetic registry projects every package depends on"
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sample", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)

    uv = uv_path()
    work = Path(tempfile.mkdtemp(prefix="uv-check-bench-"))
    (work / "home").mkdir()
    index = PackageIndex(port=0)
    try:
        index.add_many(DEFAULT_UNIVERSE)
        for i in range(args.registry):
            index.add(f"dep-{i:03d}", "1.0.0")
            requires = [f"dep-{(i + 1) % args.registry:03d}"] if i % 3 == 0 else []
            index.add(f"dep-{i:03d}", "1.1.0", requires=requires)
        tree = build(work, args.packages, args.registry, index, uv)
        env = uv_env(work, index.url)
        dirs = sorted((tree / "packages").iterdir())
        entries = (dirs[-1] / "uv.lock").read_text().count("[[package]]")
        size = sum((d / "uv.lock").stat().st_size for d in dirs)
        print(
            f"{len(dirs)} packages, {entries} [[package]] entries in an app lock, "
            f"{size / 1e6:.1f} MB of locks; uv {uv.parent.parent.name}"
        )

        results = [judge(tree) for _ in range(args.runs)]
        assert all(not r[5] for r in results), f"lockfix calls fresh locks stale: {results[0][5]}"
        wall = statistics.median(r[0] for r in results)
        cpu = statistics.median(r[1] for r in results)
        rss = max(r[2] for r in results)
        parse = statistics.median(r[3] for r in results)
        judged = statistics.median(r[4] for r in results)
        print(
            f"lockfix (fresh process, {args.runs} runs): median {wall:.3f} s wall, "
            f"{cpu:.3f} s CPU (fastest run: {min(r[0] for r in results):.3f} s wall, "
            f"{min(r[1] for r in results):.3f} s CPU), peak {rss:.0f} MB; in process: imports+pyprojects "
            f"{parse:.3f} s, judging {len(dirs)} locks {judged:.3f} s "
            f"({judged / len(dirs) * 1e3:.2f} ms a lock)"
        )

        # the whole command, as CI runs it: `lockfix check` in a fresh process over the
        # repository (git ls-files, marker scan, both backends' reading), exit 0 expected
        import os
        import sys

        git_env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.invalid",
                   "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.invalid"}
        for git_args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "tree"]):
            subprocess.run(["git", *git_args], cwd=tree, env=git_env, check=True)
        command = []
        for _ in range(args.runs):
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "lockfix", "check"], cwd=tree,
                                  capture_output=True, text=True)
            command.append(time.perf_counter() - started)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        print(f"`lockfix check` (the command, {args.runs} runs): median "
              f"{statistics.median(command):.3f} s wall, fastest {min(command):.3f} s")

        cold = [judge(tree, cold=True) for _ in range(args.runs)]
        assert all(not r[5] for r in cold)
        print(
            f"  same, caches emptied before every lock (no requirement shared between "
            f"locks): median {statistics.median(r[0] for r in cold):.3f} s wall, "
            f"{statistics.median(r[1] for r in cold):.3f} s CPU, judging "
            f"{statistics.median(r[4] for r in cold):.3f} s"
        )

        step = max(1, len(dirs) // args.sample)
        sample = dirs[::step][: args.sample]
        times = []
        for d in sample:
            elapsed, rc = uv_check(uv, d, env)
            assert rc == 0, f"uv lock --check rejects the synthesized lock in {d.name}"
            times.append(elapsed)
        per = statistics.median(times)
        print(
            f"uv lock --check on {len(sample)} packages: median {per:.3f} s "
            f"(min {min(times):.3f}, max {max(times):.3f}); x{len(dirs)} = {per * len(dirs):.1f} s; "
            f"ratio {per * len(dirs) / wall:.0f}x"
        )

        heavy_tree = work / "heavy"
        shutil.copytree(tree, heavy_tree)
        for d in sorted((heavy_tree / "packages").iterdir()):
            (d / "uv.lock").write_text(heavy((d / "uv.lock").read_text()))
        hsize = sum((d / "uv.lock").stat().st_size for d in (heavy_tree / "packages").iterdir())
        hres = [judge(heavy_tree) for _ in range(args.runs)]
        assert all(not r[5] for r in hres), hres[0][5]
        print(
            f"heavy locks ({hsize / 1e6:.1f} MB, sdist + 8 wheels an entry): median "
            f"{statistics.median(r[0] for r in hres):.3f} s wall, "
            f"{statistics.median(r[1] for r in hres):.3f} s CPU, "
            f"peak {max(r[2] for r in hres):.0f} MB"
        )

        # Stale sanity: one library gains a dependency.
        target = tree / "packages" / lib_name(3)
        text = (target / "pyproject.toml").read_text()
        (target / "pyproject.toml").write_text(text.replace('"rich",', '"rich",\n    "six",'))
        stale = judge(tree)[5]
        expected = {
            f"packages/{d.name}"
            for d in dirs
            if d.name == lib_name(3) or f'"../{lib_name(3)}"' in (d / "uv.lock").read_text()
        }
        assert set(stale) == expected, (sorted(stale), sorted(expected))
        dependent = sorted(expected - {f"packages/{lib_name(3)}"})[0]
        _, rc = uv_check(uv, tree / dependent, env)
        assert rc != 0, "uv accepts a lock whose path dependency changed"
        print(
            f"stale sanity: lockfix flags {len(stale)} locks ({lib_name(3)} and its "
            f"{len(stale) - 1} dependents); uv lock --check rejects {dependent} too"
        )
        workspace(work, args, index, uv, env)
    finally:
        index.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def workspace(
    work: Path, args: argparse.Namespace, index: PackageIndex, uv: Path, env: dict[str, str]
) -> None:
    """The same packages as members of one workspace with one lock."""
    took = build_workspace(work, args.packages, args.registry, index, uv)
    tree = work / "workspace"
    lock = tree / "uv.lock"
    print(
        f"workspace of {args.packages} members: one uv.lock of "
        f"{lock.read_text().count('[[package]]')} entries, {lock.stat().st_size / 1e6:.1f} MB "
        f"(uv lock took {took:.1f} s)"
    )
    results = [judge(tree) for _ in range(args.runs)]
    assert all(not r[5] for r in results), results[0][5]
    wall = statistics.median(r[0] for r in results)
    print(
        f"lockfix (fresh process): median {wall:.3f} s wall, "
        f"{statistics.median(r[1] for r in results):.3f} s CPU, "
        f"peak {max(r[2] for r in results):.0f} MB; judging the lock "
        f"{statistics.median(r[4] for r in results):.3f} s"
    )
    times = []
    for _ in range(max(1, min(args.runs, 3))):
        elapsed, rc = uv_check(uv, tree, env)
        assert rc == 0, "uv lock --check rejects the workspace lock"
        times.append(elapsed)
    per = statistics.median(times)
    print(f"uv lock --check on the workspace: median {per:.3f} s; ratio {per / wall:.1f}x")
    member = tree / "packages" / lib_name(3) / "pyproject.toml"
    member.write_text(member.read_text().replace('"rich",', '"rich",\n    "six",'))
    assert judge(tree)[5] == [""], "lockfix misses a changed member"
    assert uv_check(uv, tree, env)[1] != 0, "uv accepts a changed member"
    print("stale sanity: one member gains a dependency; lockfix and uv both reject the lock")


if __name__ == "__main__":
    raise SystemExit(main())
