"""The Poetry backend: ``poetry.lock`` beside each project's ``pyproject.toml``.

Poetry has no workspaces: every package has its own lock, and path dependencies make one
package's lock record another package's manifest. Locks are merged package by package
(``lock.py``), judged by Poetry's content-hash rules plus path-dependency drift
(``freshness.py``, ``drift.py``), and relocked with ``poetry lock [--no-update]``
(``tool.py``, through one shared Poetry start, ``server.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockfix.backends import Checks, DemoKit, Freshness
from lockfix.backends.base import canonical_name
from lockfix.workspace import in_dir

if TYPE_CHECKING:
    from lockfix.backends.base import LockMerge
    from lockfix.backends.poetry.tool import Poetry
    from lockfix.policies import LockPolicy


class PoetryBackend:
    name = "poetry"
    label = "Poetry"
    lockfile = "poetry.lock"
    tool_variable = "LOCKFIX_POETRY"

    def owns(self, manifest: Mapping[str, Any]) -> bool:
        tool = manifest.get("tool")
        if isinstance(tool, Mapping) and isinstance(tool.get("poetry"), Mapping):
            return True
        build = manifest.get("build-system")
        backend = build.get("build-backend") if isinstance(build, Mapping) else None
        return isinstance(backend, str) and backend.startswith("poetry")

    def links(self, manifest: Mapping[str, Any], package_dir: str,
              known: Collection[str]) -> list[str]:
        from lockfix.backends.poetry.links import path_dependencies

        return path_dependencies(manifest, package_dir)

    def members(self, manifest: Mapping[str, Any], package_dir: str,
                known: Collection[str]) -> list[str]:
        return []

    def checks(self) -> Checks:
        import lockfix.backends.poetry.check as checks

        return checks

    def locked_versions(self, lock_text: str) -> dict[str, str]:
        from lockfix.backends.poetry.lock import parse_lock

        versions: dict[str, str] = {}
        for p in parse_lock(lock_text).packages:
            versions.setdefault(canonical_name(p["name"]), str(p["version"]))
        return versions

    def demo(self) -> DemoKit:
        from lockfix.backends.poetry.demo import DEMO

        return DEMO

    def merge_locks(self, base: str | None, ours: str, theirs: str, policy: LockPolicy, *,
                    where: str, manifest: Mapping[str, Any] | None = None) -> LockMerge:
        from lockfix.backends.poetry.lock import merge_locks

        return merge_locks(base, ours, theirs, policy, where=where, manifest=manifest)

    def lock_version(self, lock_text: str, where: str) -> str | None:
        from lockfix.backends.poetry.lock import parse_lock

        return parse_lock(lock_text, where).lock_version

    def starting_lock(self, lock_text: str, where: str) -> tuple[str, str | None]:
        from lockfix.backends.poetry.lock import parse_lock, readable_lock

        return readable_lock(lock_text, parse_lock(lock_text, where))

    def freshness(self, lock_text: str, lock_dir: str,
                  manifests: Mapping[str, Mapping[str, Any]], *, root: Path) -> Freshness:
        from lockfix.backends.poetry.drift import find_drift
        from lockfix.backends.poetry.freshness import lock_freshness
        from lockfix.backends.poetry.lock import parse_lock

        lock = parse_lock(lock_text, in_dir(lock_dir, self.lockfile))
        reasons = []
        hashed = lock_freshness(manifests[lock_dir], lock)
        if not hashed.fresh:
            reasons.append(f"content-hash does not match pyproject.toml ({hashed.rule})")
        reasons += [d.describe() for d in find_drift(manifests, {lock_dir: lock}, root=root)]
        return Freshness(not reasons, tuple(reasons))

    def find_tool(self, explicit: str | None = None, env: Mapping[str, str] | None = None,
                  *, cache_dir: Path | None = None) -> Poetry:
        from lockfix.backends.poetry.tool import find_poetry

        return find_poetry(explicit, env, cache_dir=cache_dir)

    def private_env(self, env: Mapping[str, str], work: Path) -> dict[str, str]:
        # a stable private place, so the venv Poetry wants is made once and reused,
        # inside the repository rather than in the user's cache
        return {**env, "POETRY_VIRTUALENVS_PATH": str(work / "venvs"),
                "POETRY_VIRTUALENVS_IN_PROJECT": "false"}


BACKEND = PoetryBackend()
