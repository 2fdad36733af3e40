"""What ``lockfix check`` asks of a uv project or workspace: does it need a lock, is its
``uv.lock`` readable, and does it still match every manifest it was made from (the
project, workspace members, path dependencies), judged natively: no uv, no network."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

# imported with this module, before lockfix check forks its judges (each would import it)
from lockfix.backends.uv.freshness import freshness
from lockfix.backends.uv.links import links
from lockfix.backends.uv.lockscan import head_version, valid_fast
from lockfix.findings import Finding
from lockfix.toml import load_toml
from lockfix.workspace import Package

MANAGER = "uv"
LOCK_VERSIONS = (1,)  # the `version` of uv.lock that uv 0.5 to 0.13 write and read


def needs_lock(data: Mapping[str, Any]) -> bool:
    """A project that says it is uv's (a ``[tool.uv]`` table) and declares dependencies, or
    a uv workspace root. Workspace members are covered by their root's lock."""
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, Mapping) else None
    if not isinstance(uv, Mapping):
        return False
    if isinstance(uv.get("workspace"), Mapping):
        return True
    project = data.get("project")
    declared = isinstance(project, Mapping) and bool(
        project.get("dependencies") or project.get("optional-dependencies"))
    return declared or bool(data.get("dependency-groups")) or bool(uv.get("dev-dependencies"))


def lock_command(label: str) -> str:
    return f"uv lock --directory {label}"


def read(pkg: Package, text: str, data: Mapping[str, Any] | None, restore: str
         ) -> tuple[str | None, list[Finding]]:
    """Parse the lock (raises MalformedToml for bad TOML); keep its text for judging once
    every manifest is known (a workspace lock depends on its members' manifests)."""
    if valid_fast(text):  # uv's own layout: no full parse needed (lockscan.py)
        version: Any = head_version(text)
        packages: Any = []
    else:
        lock = load_toml(text, pkg.lockfile)  # raises MalformedToml, with tomllib's words
        version, packages = lock.get("version"), lock.get("package", [])
    if not isinstance(version, int) or not isinstance(packages, list):
        return None, [Finding("invalid-lock", "error", pkg.lockfile, None, None, pkg.label,
                              "not a uv lock (no integer `version`, or `package` is not an "
                              "array of tables)", restore, {"detail": "uv.lock layout"}, MANAGER)]
    if version not in LOCK_VERSIONS:
        return None, [Finding(
            "unsupported-lock-version", "error", pkg.lockfile, _line_of(text, "version"), None,
            pkg.label, f"uv.lock version {version} is newer than lockfix understands (1): "
            "upgrade lockfix", "pip install --upgrade lockfix", {"lock_version": str(version)},
            MANAGER)]
    return text, []


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(key + " ") or line.startswith(key + "="):
            return number
    return None


def link_findings(manifests: Mapping[str, Mapping[str, Any]], locks: Mapping[str, Any],
                  packages: Mapping[str, Package], root: Path, selected: set[str]
                  ) -> list[Finding]:
    """Stale locks: any lock that is selected, or that records a selected manifest."""
    known = set(manifests)
    out = []
    for d, text in sorted(locks.items()):
        if d not in manifests:
            continue
        if d not in selected and not any(x in selected for x in links(manifests[d], d, known)):
            continue
        judged = freshness(text, d, manifests)
        if judged.fresh:
            continue
        pkg = packages[d]
        reasons = list(judged.reasons)
        out.append(Finding(
            "stale-lock", "error", pkg.lockfile, None, None, pkg.label,
            "uv.lock does not match the project: " + "; ".join(reasons[:3])
            + (f" (+{len(reasons) - 3} more)" if len(reasons) > 3 else ""),
            f"lockfix run {pkg.label}", {"reasons": reasons}, MANAGER))
    return out
