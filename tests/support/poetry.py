"""Real Poetry executables for the end-to-end tests, each run in an isolated environment.

`./dev test` installs Poetry 2.x and 1.8.5 into `.tools/` (one venv each, as pipx would)
and passes them in ``LOCKFIX_TEST_POETRIES`` (``:``-separated). Without it, the
executables under ``.tools/poetry-*/bin/poetry`` are used. Finding none is an error, not
a skip: the end-to-end promise is that both Poetry lines are exercised.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from tests.support.tools import discover_tools, tool_version


def discover_poetries() -> list[Path]:
    return discover_tools("poetry", "LOCKFIX_TEST_POETRIES", "Poetry")


def version_of(path: Path) -> tuple[int, ...]:
    return tool_version(path, "poetry")


@dataclass
class PoetryExe:
    """One Poetry installation plus the isolated environment tests run it in."""

    path: Path
    version: tuple[int, ...]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return "poetry" + ".".join(map(str, self.version))

    @property
    def major(self) -> int:
        return self.version[0]

    def with_env(self, **overrides: str) -> PoetryExe:
        """A copy running with some variables changed, e.g. to let Poetry create venvs for a
        project whose ``python`` excludes the running interpreter::

            poetry.with_env(POETRY_VIRTUALENVS_CREATE="true",
                            POETRY_VIRTUALENVS_PATH=str(tmp_path / "home" / "venvs"))
        """
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
            [str(self.path), *args, "--no-interaction", "--no-ansi"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"poetry {' '.join(args)} failed ({proc.returncode}) in {cwd}:\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def lock(self, cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Relock without upgrading: the one flag choice tests need (mirrors lockfix.backends.poetry.tool)."""
        args = ["lock", "--no-update"] if self.major < 2 else ["lock"]
        return self.run(args, cwd, check=check)

    def check_lock(self, cwd: Path) -> subprocess.CompletedProcess[str]:
        """`poetry check --lock` (1.8 and 2.x both know it); returns without raising."""
        return self.run(["check", "--lock"], cwd, check=False)


def isolated_env(home: Path) -> dict[str, str]:
    """An environment in which Poetry sees only per-test config, cache and data dirs."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POETRY_", "VIRTUAL_ENV", "PIP_", "LOCKFIX_"))
        and k.lower() not in _PROXY_VARS
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_DATA_HOME=str(home / "data"),
        POETRY_CONFIG_DIR=str(home / "poetry-config"),
        POETRY_CACHE_DIR=str(home / "poetry-cache"),
        POETRY_DATA_DIR=str(home / "poetry-data"),
        POETRY_VIRTUALENVS_CREATE="false",
        POETRY_NO_INTERACTION="1",
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.invalid",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.invalid",
    )
    # Hermetic by construction, even on a machine with network: every HTTP(S) request
    # except to the test index on 127.0.0.1 goes to a dead proxy (the discard port) and
    # fails at once instead of reaching PyPI.
    for var in ("http_proxy", "https_proxy", "all_proxy"):
        env[var] = env[var.upper()] = _DEAD_PROXY
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
_DEAD_PROXY = "http://127.0.0.1:9"
