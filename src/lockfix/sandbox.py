"""Environments for throw-away work (``lockfix demo``, the benchmarks): git and the
network fenced in, so nothing they run reads or writes the user's own state or leaves
the machine."""

from __future__ import annotations

from pathlib import Path


def git_sandbox(home: Path) -> dict[str, str]:
    """git with a private global config and a fixed identity."""
    return {
        "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Demo",
        "GIT_AUTHOR_EMAIL": "demo@example.invalid",
        "GIT_COMMITTER_NAME": "Demo",
        "GIT_COMMITTER_EMAIL": "demo@example.invalid",
    }


def offline() -> dict[str, str]:
    """Offline by construction: any request that is not for an index on 127.0.0.1 goes to
    a dead proxy (the discard port) and fails at once."""
    dead = "http://127.0.0.1:9"
    env = {var: dead for var in ("http_proxy", "https_proxy", "all_proxy")}
    env.update({var.upper(): dead for var in env})
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    return env
