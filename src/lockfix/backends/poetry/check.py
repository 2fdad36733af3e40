"""What ``lockfix check`` asks of a Poetry package: does it need a lock, is its lock
readable and fresh (content-hash, by the rules of the Poetry that wrote it), and does it
still record its path dependencies as they are (drift, which ``poetry check --lock``
misses)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lockfix.backends.base import canonical_name
from lockfix.backends.poetry.lockscan import LockSummary, read_lock
from lockfix.errors import LockfixError, MalformedToml
from lockfix.findings import Finding
from lockfix.workspace import Package

MANAGER = "poetry"
# lock-versions lockfix reads: what Poetry 1.x and 2.x write and read (">=1,<3").
LOCK_MAJORS = (1, 2)


def lock_version_supported(version: str | None) -> bool:
    if version is None:
        return True  # pre-1.1 locks had none
    major = version.split(".", 1)[0]
    return major.isdigit() and int(major) in LOCK_MAJORS


def needs_lock(data: Mapping[str, Any]) -> bool:
    """A Poetry project with dependencies beyond ``python``: one that needs a lock."""
    tool = data.get("tool")
    tool_poetry = tool.get("poetry") if isinstance(tool, Mapping) else None
    build = data.get("build-system")
    backend = build.get("build-backend") if isinstance(build, Mapping) else None
    is_poetry = isinstance(tool_poetry, Mapping) or (
        isinstance(backend, str) and backend.startswith("poetry")
    )
    if not is_poetry:
        return False
    tool_poetry = tool_poetry if isinstance(tool_poetry, Mapping) else {}
    tables: list[Any] = [tool_poetry.get("dependencies"), tool_poetry.get("dev-dependencies")]
    groups = tool_poetry.get("group")
    if isinstance(groups, Mapping):
        tables += [g.get("dependencies") for g in groups.values() if isinstance(g, Mapping)]
    for table in tables:
        if isinstance(table, Mapping) and any(k.lower() != "python" for k in table):
            return True
    project = data.get("project")
    if isinstance(project, Mapping) and (
        project.get("dependencies") or project.get("optional-dependencies")
    ):
        return True
    return bool(data.get("dependency-groups"))


def lock_command(label: str) -> str:
    return f"poetry -C {label} lock"


def read(pkg: Package, text: str, data: Mapping[str, Any] | None, restore: str
         ) -> tuple[LockSummary | None, list[Finding]]:
    """Parse the lock (raises MalformedToml for bad TOML) and judge its content-hash."""
    from lockfix.backends.poetry.freshness import lock_freshness

    fix = f"lockfix run {pkg.label}"
    try:
        summary = read_lock(text, pkg.lockfile)
    except MalformedToml:
        raise
    except LockfixError as exc:
        return None, [Finding("invalid-lock", "error", pkg.lockfile, None, None, pkg.label,
                              exc.message, restore, {"detail": exc.message}, MANAGER)]
    version = summary.lock.lock_version
    if not lock_version_supported(version):
        return None, [Finding(
            "unsupported-lock-version", "error", pkg.lockfile, summary.lock_version_line, None,
            pkg.label,
            f"lock-version {version} is newer than lockfix understands (1.x and 2.x): "
            "upgrade lockfix", "pip install --upgrade lockfix", {"lock_version": version},
            MANAGER)]
    findings = []
    if data is not None:
        fresh = lock_freshness(data, summary.lock)
        if not fresh.fresh:
            findings.append(Finding(
                "stale-lock", "error", pkg.lockfile, summary.content_hash_line, None, pkg.label,
                f"content-hash does not match pyproject.toml ({fresh.rule})", fix,
                {"expected": fresh.expected, "found": fresh.found, "rule": fresh.rule}, MANAGER))
    return summary, findings


def link_findings(manifests: Mapping[str, Mapping[str, Any]], locks: Mapping[str, Any],
                  packages: Mapping[str, Package], root: Path, selected: set[str]
                  ) -> list[Finding]:
    """Drift in the selected packages' locks, and in other locks about a selected package
    (its dependents, when a check is limited to the files being committed)."""
    from lockfix.backends.poetry.drift import find_drift

    summaries: Mapping[str, LockSummary] = locks
    out = []
    for drift in find_drift(manifests, {d: s.lock for d, s in summaries.items()}, root=root):
        if drift.package not in selected and drift.dependency not in selected:
            continue
        pkg = packages[drift.package]
        summary = summaries.get(drift.package)
        number = summary.directory_lines.get(canonical_name(drift.name)) if summary else None
        out.append(Finding(
            "path-drift", "error", pkg.lockfile, number, None, pkg.label, drift.describe(),
            f"lockfix run {pkg.label}",
            {"dependency": drift.dependency or ".", "name": drift.name,
             "changes": [{"kind": c.kind, "name": c.name, "locked": c.locked,
                          "current": c.current} for c in drift.changes]}, MANAGER))
    return out
