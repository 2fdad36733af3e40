"""The errors lockfix reports to users.

Every failure a user can hit is a :class:`LockfixError` carrying one clear message and,
where there is one, the command to run next. Commands catch these at the edge and turn
them into an exit code; nothing else is expected to escape.
"""

from __future__ import annotations


class LockfixError(Exception):
    """A failure with a message meant for the user."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\n  next: {self.hint}"


class MalformedToml(LockfixError):
    """A side of a merge (or a file on disk) is not valid TOML."""

    def __init__(self, where: str, detail: str, line: int | None = None, col: int | None = None):
        self.where = where
        self.detail = detail
        self.line = line
        self.col = col
        pos = f":{line}:{col}" if line is not None else ""
        super().__init__(f"{where}{pos}: not valid TOML: {detail}")


class MergeClash(LockfixError):
    """Both sides changed the same value differently and the policy says 'fail'."""


class ToolError(LockfixError):
    """A package manager (Poetry, uv) is missing, too old, timed out, or refused to lock."""


class PoetryError(ToolError):
    """Poetry is missing, too old, timed out, or refused to lock."""
