"""What ``lockfix check`` reports: one problem, located in one file.

Kept apart from the command so that each backend's checks (``backends/*/check.py``) can
produce findings without importing the command.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One problem, located in one file."""

    kind: str
    severity: str  # "error" | "warning"
    file: str
    line: int | None
    column: int | None
    package: str | None
    message: str
    fix: str | None
    details: Mapping[str, Any] = field(default_factory=dict)
    manager: str | None = None  # the backend owning the file ("poetry", "uv"), if any

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "package": self.package,
            "manager": self.manager,
            "message": self.message,
            "fix": self.fix,
            "details": dict(self.details),
        }
