"""Finding the package-manager executables the end-to-end tests run, one per line.

`./dev test` installs each tool line into `.tools/<name>-X.Y.Z/` and passes their paths in
an environment variable (``:``-separated); without it, `.tools/` is globbed. Finding none
is an error, not a skip: the end-to-end promise is that every line is exercised.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def tool_version(path: Path, name: str) -> tuple[int, ...]:
    """Read the version from the venv directory name (`.tools/NAME-X.Y.Z`) or ask the tool."""
    m = re.search(rf"{re.escape(name)}-(\d+(?:\.\d+)+)", str(path))
    if m:
        return tuple(int(x) for x in m.group(1).split("."))
    out = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=True)
    found = re.search(r"(\d+(?:\.\d+)+)", out.stdout)
    assert found, out.stdout
    return tuple(int(x) for x in found.group(1).split("."))


def discover_tools(name: str, variable: str, label: str) -> list[Path]:
    """Every installed line of tool ``name``, newest first."""
    env = os.environ.get(variable)
    if env:
        paths = [Path(p) for p in env.split(os.pathsep) if p]
    else:
        paths = sorted(ROOT.glob(f".tools/{name}-*/bin/{name}"),
                       key=lambda p: tool_version(p, name), reverse=True)
    missing = [p for p in paths if not p.is_file()]
    if not paths or missing:
        raise RuntimeError(
            f"no {label} executables for the end-to-end tests (missing: {missing}); run ./dev setup"
        )
    return paths
