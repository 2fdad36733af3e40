"""The uv side of ``lockfix demo``: a uv workspace, one ``uv.lock`` at its root covering
``packages/core``, ``packages/api-gateway`` and ``packages/background-worker`` (the last
two depend on core as a workspace member)."""

from __future__ import annotations

import os
from pathlib import Path

from lockfix.sandbox import git_sandbox, offline

CORE, GATEWAY, WORKER = "packages/core", "packages/api-gateway", "packages/background-worker"

PACKAGES: dict[str, tuple[str, list[str]]] = {
    CORE: ("core", ["requests>=2.30"]),
    GATEWAY: ("api-gateway", ["fastapi>=0.104", "core"]),
    WORKER: ("background-worker", ["celery>=5.3", "core"]),
}
OURS = [(CORE, "attrs", ">=23.1"), (WORKER, "redis", ">=5.0")]
THEIRS = [(CORE, "six", ">=1.16"), (GATEWAY, "structlog", ">=23.2")]
LAYOUT = "a uv workspace of three members with one uv.lock at its root"


def root_pyproject(index_url: str) -> str:
    return (
        '[project]\nname = "demo-workspace"\nversion = "0.1.0"\nrequires-python = ">=3.9"\n'
        "dependencies = []\n\n"
        '[tool.uv.workspace]\nmembers = ["packages/*"]\n\n'
        f'[[tool.uv.index]]\nname = "demo"\nurl = "{index_url}"\ndefault = true\n'
    )


def member_pyproject(name: str, deps: list[str]) -> str:
    listed = "".join(f'    "{d}",\n' for d in deps)
    text = (f'[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = ">=3.9"\n'
            f"dependencies = [\n{listed}]\n")
    if "core" in deps:
        text += "\n[tool.uv.sources]\ncore = { workspace = true }\n"
    return text


class UvDemo:
    layout = LAYOUT
    ours = OURS
    theirs = THEIRS
    packages = tuple(PACKAGES)

    def env(self, home: Path, executable: Path) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("UV_", "GIT_"))},
            "UV_CACHE_DIR": str(home / "uv-cache"),
            "XDG_CONFIG_HOME": str(home / "config"),  # no user uv.toml; the project's index
            "UV_PYTHON_DOWNLOADS": "never",
            **git_sandbox(home),
            **offline(),
            "LOCKFIX_UV": str(executable),
        }

    def write_base(self, repo: Path, index_url: str) -> None:
        (repo / "pyproject.toml").write_text(root_pyproject(index_url))
        for pkg, (name, deps) in PACKAGES.items():
            (repo / pkg).mkdir(parents=True)
            (repo / pkg / "pyproject.toml").write_text(member_pyproject(name, deps))

    def add(self, repo: Path, pkg: str, dep: str, constraint: str) -> None:
        path = repo / pkg / "pyproject.toml"
        anchor = "dependencies = [\n"
        path.write_text(path.read_text().replace(anchor, f'{anchor}    "{dep}{constraint}",\n', 1))

    def lock_dirs(self, touched: set[str] | None) -> list[str]:
        return [""]  # one lock for the whole workspace

    def report_dirs(self) -> list[str]:
        return [""]


DEMO = UvDemo()
