"""Real uv executables for the end-to-end tests, each run in an isolated environment.

`./dev test` installs uv 0.13.8 and an older uv line (0.5.31, whose locks carry no
``revision``) into `.tools/` and passes them in ``LOCKFIX_TEST_UVS`` (``:``-separated).
Without it, the executables under ``.tools/uv-*/bin/uv`` are used. Finding none is an
error, not a skip: the end-to-end promise is that both uv lines are exercised.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from tests.support.poetry import isolated_env
from tests.support.tools import discover_tools, tool_version


def discover_uvs() -> list[Path]:
    return discover_tools("uv", "LOCKFIX_TEST_UVS", "uv")


def uv_version_of(path: Path) -> tuple[int, ...]:
    return tool_version(path, "uv")


def uv_env(home: Path, index_url: str | None = None) -> dict[str, str]:
    """The tests' hermetic environment (see ``isolated_env``) plus uv's own: a private
    cache and, when given, the test index as uv's default index (no PyPI)."""
    env = {k: v for k, v in isolated_env(home).items() if not k.startswith("UV_")}
    env["UV_CACHE_DIR"] = str(home / "uv-cache")
    # no uv.toml of the user's (XDG_CONFIG_HOME is the test's); a project's own [tool.uv]
    # settings are uv's to read, as for users
    env["UV_PYTHON_DOWNLOADS"] = "never"
    if index_url is not None:
        env["UV_DEFAULT_INDEX"] = index_url
    return env


@dataclass
class UvExe:
    """One uv installation plus the isolated environment tests run it in."""

    path: Path
    version: tuple[int, ...]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return "uv" + ".".join(map(str, self.version))

    def with_env(self, **overrides: str) -> UvExe:
        return replace(self, env={**self.env, **overrides})

    def run(
        self,
        args: Sequence[str],
        cwd: Path,
        *,
        check: bool = True,
        extra_env: Mapping[str, str] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **(extra_env or {})}
        proc = subprocess.run(
            [str(self.path), *args], cwd=cwd, env=env, capture_output=True, text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"uv {' '.join(args)} failed ({proc.returncode}) in {cwd}:\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def lock(self, cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``uv lock``: keeps every locked version that still satisfies the project."""
        return self.run(["lock"], cwd, check=check)

    def check_lock(self, cwd: Path) -> subprocess.CompletedProcess[str]:
        """``uv lock --check``: exit 0 when the lock matches the project; never raises."""
        return self.run(["lock", "--check"], cwd, check=False)
