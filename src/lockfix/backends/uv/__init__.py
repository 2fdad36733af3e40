"""The uv backend: ``uv.lock`` at a project or workspace root.

A uv workspace has one lock at its root covering every member; per-package projects in a
monorepo keep their own locks and link siblings by path. Locks are merged entry by entry,
keyed by (name, version, source) since forked resolutions repeat a name (``lock.py``),
judged natively against the manifests (``freshness.py``), and relocked with plain
``uv lock`` (``tool.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockfix import PYPROJECT
from lockfix.backends import Checks, DemoKit, Freshness
from lockfix.backends.base import canonical_name

if TYPE_CHECKING:
    from lockfix.backends.base import LockMerge
    from lockfix.backends.uv.tool import Uv
    from lockfix.policies import LockPolicy


class UvBackend:
    name = "uv"
    label = "uv"
    lockfile = "uv.lock"
    tool_variable = "LOCKFIX_UV"

    def owns(self, manifest: Mapping[str, Any]) -> bool:
        tool = manifest.get("tool")
        return isinstance(tool, Mapping) and isinstance(tool.get("uv"), Mapping)

    def links(self, manifest: Mapping[str, Any], package_dir: str,
              known: Collection[str]) -> list[str]:
        from lockfix.backends.uv.links import links

        return links(manifest, package_dir, known)

    def members(self, manifest: Mapping[str, Any], package_dir: str,
                known: Collection[str]) -> list[str]:
        from lockfix.backends.uv.links import workspace_members

        return workspace_members(manifest, package_dir, known)

    def checks(self) -> Checks:
        import lockfix.backends.uv.check as checks

        return checks

    def locked_versions(self, lock_text: str) -> dict[str, str]:
        from lockfix.backends.uv.lock import parse_lock

        versions: dict[str, str] = {}
        for p in parse_lock(lock_text).packages:
            if "version" in p:
                versions.setdefault(canonical_name(p["name"]), str(p["version"]))
        return versions

    def demo(self) -> DemoKit:
        from lockfix.backends.uv.demo import DEMO

        return DEMO

    def merge_locks(self, base: str | None, ours: str, theirs: str, policy: LockPolicy, *,
                    where: str, manifest: Mapping[str, Any] | None = None) -> LockMerge:
        from lockfix.backends.uv.lock import merge_locks

        return merge_locks(base, ours, theirs, policy, where=where)

    def lock_version(self, lock_text: str, where: str) -> str | None:
        from lockfix.backends.uv.lock import parse_lock

        return parse_lock(lock_text, where).lock_version

    def starting_lock(self, lock_text: str, where: str) -> tuple[str, str | None]:
        return lock_text, self.lock_version(lock_text, where)

    def freshness(self, lock_text: str, lock_dir: str,
                  manifests: Mapping[str, Mapping[str, Any]], *, root: Path) -> Freshness:
        from lockfix.backends.uv.freshness import freshness

        judged = freshness(lock_text, lock_dir, manifests)
        return Freshness(judged.fresh, tuple(judged.reasons))

    def find_tool(self, explicit: str | None = None, env: Mapping[str, str] | None = None,
                  *, cache_dir: Path | None = None) -> Uv:
        from lockfix.backends.uv.tool import find_uv

        return find_uv(explicit, env)

    def private_env(self, env: Mapping[str, str], work: Path) -> dict[str, str]:
        """uv looks for a workspace root in every directory above the project, and fails
        on an unparsable ``pyproject.toml`` there: the private trees live under the git
        dir, inside the repository, whose own ``pyproject.toml`` may be the conflicted
        file being resolved (and whose settings are not the package's). An empty workspace
        root above the trees ends that search: a package is not its member, so uv locks it
        as the standalone project it is, with its own settings."""
        barrier = work / PYPROJECT
        if not barrier.is_file():
            work.mkdir(parents=True, exist_ok=True)
            barrier.write_text(_BARRIER, encoding="utf-8")
        return dict(env)


_BARRIER = (
    "# lockfix: stops uv's search for a workspace above its private trees (see\n"
    "# lockfix.backends.uv.UvBackend.private_env); removed by `lockfix uninstall`.\n"
    "[tool.uv.workspace]\nmembers = []\n"
)

BACKEND = UvBackend()
