"""What the benchmarks share: running a command, and the demo's sandbox and templates.

Projects are the Poetry demo's (``lockfix.backends.poetry.demo``), so a benchmark measures the same
kind of package a newcomer sees in ``lockfix demo``.
"""

from __future__ import annotations

import compileall
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # lockfix from this checkout, installed or not
# measure lockfix as installed, byte-compiled (an editable install under
# PYTHONDONTWRITEBYTECODE would recompile every module in every lockfix process)
compileall.compile_dir(ROOT / "src" / "lockfix", quiet=1)

from lockfix.backends.poetry.demo import add_dependency, pyproject_text  # noqa: E402
from lockfix.backends.poetry.demo import sandbox_env as _sandbox_env  # noqa: E402
from lockfix.backends.poetry.tool import Poetry  # noqa: E402

__all__ = ["ROOT", "add_dependency", "bench_env", "pyproject_text", "sh"]


def sh(args: list[str], cwd: Path, env: dict[str, str],
       check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {cwd}:\n{proc.stdout}{proc.stderr}")
    return proc


def bench_env(work: Path, poetry: Poetry) -> dict[str, str]:
    """The demo's sandbox, without lockfix settings inherited from the caller's shell."""
    env = _sandbox_env(work, poetry.executable)
    return {k: v for k, v in env.items() if not k.startswith("LOCKFIX_") or k == "LOCKFIX_POETRY"}


def clone_with_timed_driver(origin: Path, clone: Path, env: dict[str, str], times: Path) -> None:
    """Clone ``origin`` (with its ``feature`` branch), install lockfix there, and wrap the
    registered driver so that each driver process's wall time, interpreter start-up
    included, is appended to ``times`` as ``<path> <nanoseconds>`` (see driver_times)."""
    sh(["git", "clone", "-q", str(origin), str(clone)], clone.parent, env)
    sh(["git", "branch", "-q", "feature", "origin/feature"], clone, env)
    sh([sys.executable, "-m", "lockfix", "install", "--attributes-file", "info"], clone, env)
    # git runs this wrapper, which runs the very command `lockfix install` registered
    registered = sh(["git", "config", "merge.lockfix.driver"], clone, env).stdout.strip()
    wrapper = clone.parent / f"timed-driver-{clone.name}.sh"
    wrapper.write_text(
        "#!/bin/sh\ns=$(date +%s%N)\n"
        f"{registered.split(' merge-driver ')[0]} merge-driver \"$@\"\nrc=$?\n"
        f"echo \"$5 $(( $(date +%s%N) - s ))\" >> {times}\nexit $rc\n")
    wrapper.chmod(0o755)
    sh(["git", "config", "merge.lockfix.driver", f"{wrapper} %O %A %B %L %P"], clone, env)


def driver_times(times: Path) -> dict[str, float]:
    """Seconds each driver process took, by path, since the last call (which empties it)."""
    found = {path: int(ns) / 1e9 for path, ns in (line.split() for line in times.read_text().splitlines())}
    times.unlink()
    return found
