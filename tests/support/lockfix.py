"""Run the real ``lockfix`` command line in a subprocess, as a user (or git) would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.support.poetry import PoetryExe


def lockfix(
    *args: str,
    cwd: Path,
    poetry: PoetryExe,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """``lockfix ARGS`` in ``cwd`` with the test's isolated environment and its Poetry."""
    env = {**poetry.env, "LOCKFIX_POETRY": str(poetry.path), **(extra_env or {})}
    return subprocess.run(
        [sys.executable, "-m", "lockfix", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
