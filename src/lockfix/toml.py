"""Fast, read-only TOML loading shared by every module.

``tomllib`` (``tomli`` before Python 3.11) is an order of magnitude faster than tomlkit,
which matters when ``lockfix check`` parses hundreds of locks; tomlkit is kept for the
places that must preserve layout. Decode errors become :class:`MalformedToml` so that the
user learns which file, which side of a merge, and where.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from typing import Any

from lockfix.errors import MalformedToml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ["load_toml"]

_AT_LINE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


def load_toml(text: str, where: str) -> dict[str, Any]:
    """Parse ``text``; ``where`` names the file (and side) in the error message."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _malformed(text, where, str(exc)) from None
    return data


def _malformed(text: str, where: str, message: str) -> MalformedToml:
    """Split tomllib's message into detail and position (it only reports them as text)."""
    m = _AT_LINE.search(message)
    if m is not None:
        return MalformedToml(where, message[: m.start()], int(m.group(1)), int(m.group(2)))
    m = _AT_END.search(message)
    if m is not None:
        # Point at the end of the text: that is where the parser gave up.
        line = text.count("\n") + 1
        col = len(text) - (text.rfind("\n") + 1) + 1
        return MalformedToml(where, message[: m.start()] + " at end of document", line, col)
    return MalformedToml(where, message)


def number_or_bool(value: Any) -> str | None:
    """TOML text of a bool, int or float (``nan``, ``inf``, ``-inf`` included), else None.

    The one rendering of TOML scalars shared by the lock writer and clash messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return None


def table(data: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    """The table at ``path`` (``table(d, "tool", "uv")``), or an empty one wherever a key
    is missing or not a table: manifests are user-written, any level may be anything."""
    for key in path:
        value = data.get(key)
        if not isinstance(value, Mapping):
            return {}
        data = value
    return data


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')


def string_text(value: str) -> str:
    """A TOML basic string, escaped as Poetry and uv write them (short escapes, else ``\\uXXXX``)."""

    def escape(m: re.Match[str]) -> str:
        ch = m.group(0)
        return _ESCAPES.get(ch, f"\\u{ord(ch):04x}")

    return '"' + _NEEDS_ESCAPE.sub(escape, value) + '"'


def key_text(key: str) -> str:
    """A TOML key: bare where it may be, else quoted."""
    return key if _BARE_KEY.fullmatch(key) else string_text(key)
