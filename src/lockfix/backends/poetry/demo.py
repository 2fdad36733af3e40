"""The Poetry side of ``lockfix demo``: a per-package monorepo, since Poetry has no
workspaces. ``packages/core``, ``packages/api-gateway`` and ``packages/background-worker``,
the last two depending on core by path (``develop = true``), each with its own lock."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from lockfix.sandbox import git_sandbox, offline

CORE, GATEWAY, WORKER = "packages/core", "packages/api-gateway", "packages/background-worker"
PACKAGES: dict[str, tuple[str, dict[str, str]]] = {
    CORE: ("core", {"requests": "^2.30"}),
    GATEWAY: ("api-gateway", {"fastapi": "^0.104"}),
    WORKER: ("background-worker", {"celery": "^5.3"}),
}
DEPENDS_ON_CORE = (GATEWAY, WORKER)
#: what each branch adds: (package dir, dependency, constraint)
OURS = [(CORE, "attrs", "^23.1"), (WORKER, "redis", "^5.0")]
THEIRS = [(CORE, "six", "^1.16"), (GATEWAY, "structlog", "^23.2")]
LAYOUT = "three packages with a poetry.lock each (core first: the others depend on it by path)"


def pyproject_text(name: str, deps: Mapping[str, str], path_dep: bool, index_url: str) -> str:
    module = name.replace("-", "_")
    lines = [
        "[tool.poetry]",
        f'name = "{name}"',
        'version = "0.1.0"',
        f'description = "The {name} service"',
        'authors = ["Demo <demo@example.invalid>"]',
        f'packages = [{{ include = "{module}" }}]',
        "",
        "[tool.poetry.dependencies]",
        'python = ">=3.9"',
        *(f'{dep} = "{c}"' for dep, c in deps.items()),
    ]
    if path_dep:
        lines.append('core = { path = "../core", develop = true }')
    lines += [
        "",
        "[[tool.poetry.source]]",
        'name = "demo"',
        f'url = "{index_url}"',
        'priority = "primary"',
        "",
        "[build-system]",
        'requires = ["poetry-core>=1.0.0"]',
        'build-backend = "poetry.core.masonry.api"',
        "",
    ]
    return "\n".join(lines)


def add_dependency(project: Path, dep: str, constraint: str) -> None:
    """Add ``dep = "constraint"`` to a project written by :func:`pyproject_text` (no relock)."""
    path = project / "pyproject.toml"
    anchor = 'python = ">=3.9"\n'
    path.write_text(path.read_text().replace(anchor, f'{anchor}{dep} = "{constraint}"\n', 1))


def sandbox_env(home: Path, executable: Path) -> dict[str, str]:
    """This environment with Poetry's and git's state kept under ``home``: nothing the
    demo (or a benchmark built like it) runs reads or writes the user's own."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("POETRY_", "GIT_"))},
        "POETRY_CONFIG_DIR": str(home / "poetry-config"),
        "POETRY_CACHE_DIR": str(home / "poetry-cache"),
        "POETRY_DATA_DIR": str(home / "poetry-data"),
        "POETRY_VIRTUALENVS_CREATE": "false",
        **git_sandbox(home),
        **offline(),
        "LOCKFIX_POETRY": str(executable),
    }


class PoetryDemo:
    layout = LAYOUT
    ours = OURS
    theirs = THEIRS
    packages = tuple(PACKAGES)

    def env(self, home: Path, executable: Path) -> dict[str, str]:
        return sandbox_env(home, executable)

    def write_base(self, repo: Path, index_url: str) -> None:
        for pkg, (name, deps) in PACKAGES.items():
            module = repo / pkg / name.replace("-", "_")
            module.mkdir(parents=True)
            (module / "__init__.py").write_text("")
            (repo / pkg / "pyproject.toml").write_text(
                pyproject_text(name, deps, pkg in DEPENDS_ON_CORE, index_url))

    def add(self, repo: Path, pkg: str, dep: str, constraint: str) -> None:
        add_dependency(repo / pkg, dep, constraint)

    def lock_dirs(self, touched: set[str] | None) -> list[str]:
        """Locks to write after ``touched`` manifests changed (None: all), in order."""
        if touched is None:
            return list(PACKAGES)
        if CORE in touched:
            touched = touched | set(DEPENDS_ON_CORE)
        return [pkg for pkg in PACKAGES if pkg in touched]

    def report_dirs(self) -> list[str]:
        """Where the demo reads locked versions before and after, per package."""
        return list(PACKAGES)


DEMO = PoetryDemo()
