"""Read what ``lockfix check`` needs from a ``poetry.lock`` without a full TOML parse.

A realistic lock (~100 packages with their file hashes) takes ~35 ms to parse with
``tomllib``: 7 s for a 200-package monorepo, against a 1 s budget. Yet check needs only
three things from a lock: that it is valid TOML, its header and ``[metadata]``, and the
``[[package]]`` entries of path dependencies (``source.type = "directory"``).

So a lock is first matched against the layout Poetry (tomlkit) writes, with regular
expressions that run in C over whole tables: a strict *subset* of TOML 1.0 (basic strings
with only ``\\"``/``\\\\`` escapes, bare or plain quoted keys, the inline-table shapes Poetry
writes, arrays one element a line). Key and table uniqueness, which a regex cannot see,
are checked per table. When everything matches, the document is valid TOML, and only the
small parts needed are handed to :func:`lockfix.backends.poetry.lock.parse_lock`. Anything else (a
hand-edited lock, another writer, an error) falls back to the full parse, which is the
authority on validity and reports the error's line and column. The fast path can only
say "valid" for text ``tomllib`` accepts; the tests compare the two on mutated locks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lockfix.backends.poetry.lock import LockFile, canonical_name, parse_lock

__all__ = ["LockSummary", "read_lock"]

# -- the grammar: a subset of TOML 1.0 as Poetry writes it ---------------------------------

_CHARS = r'[^"\\\x00-\x08\x0a-\x1f\x7f]'  # a basic-string character other than an escape
_STR = rf'"{_CHARS}*(?:\\[\\"]{_CHARS}*)*"'
_PLAIN_STR = r'"[^"\\\x00-\x1f\x7f]*"'  # no escapes: its text is its value
_BARE = r"[A-Za-z0-9_-]+"
_KEY = rf"(?:{_BARE}|{_PLAIN_STR})"
_BOOL = r"(?:true|false)"
_SIMPLE = rf"(?:{_STR}|{_BOOL})"
_INLINE_ARRAY = rf"\[(?:{_SIMPLE}(?:, {_SIMPLE})*)?\]"
# The inline tables Poetry writes, keys in the order it writes them: no key can repeat.
_FILE_TABLE = rf"\{{file = {_STR}, hash = {_STR}\}}"
_DEP_TABLE = (
    rf"\{{(?:version = {_STR}|path = {_STR}(?:, develop = {_BOOL})?|url = {_STR}"
    rf"|git = {_STR}(?:, (?:branch|tag|rev) = {_STR})?(?:, subdirectory = {_STR})?)"
    rf"(?:, extras = {_INLINE_ARRAY})?(?:, optional = {_BOOL})?(?:, markers = {_STR})?\}}"
)
# Per-group markers of lock-version 2.1 (``markers = {main = "...", dev = "..."}``): keys
# are arbitrary, so their uniqueness is checked in Python (see _GROUP_MARKERS). The
# lookahead keeps it apart from _DEP_TABLE: no line can match two ways.
_GROUP_TABLE = rf"\{{(?!(?:version|path|url|git) = ){_BARE} = {_STR}(?:, {_BARE} = {_STR})*\}}"
# Every alternative below starts differently from its siblings, so the grammar is
# unambiguous: a document that does not match fails in linear time, never
# backtracking exponentially through earlier lines.
_ELEMENT = rf"    (?:{_FILE_TABLE}|{_DEP_TABLE}|{_STR}),\n"
_VALUE = rf"(?:{_SIMPLE}|{_INLINE_ARRAY}|{_DEP_TABLE}|\[\n(?:{_ELEMENT})*\])"
_LINE = (
    rf"(?:{_KEY} = {_VALUE}|markers = {_GROUP_TABLE}"
    r"|[ \t]*(?:#[^\x00-\x08\x0a-\x1f\x7f]*)?)\n"
)
_HEADER = rf"(?:\[\[package\]\]|\[{_BARE}(?:\.{_BARE})?\])\n"
# The bulk of a lock: its ``files`` arrays. Each one made only of well-formed file lines
# is emptied in one C-level pass, so that the grammar and the table checks below run
# over the rest (~20% of the text); any other array stays for the general grammar.
_FILES_ARRAY = re.compile(rf"\nfiles = \[\n(?:    {_FILE_TABLE},\n)*\]\n")
_DOCUMENT = re.compile(rf"(?:{_LINE})*(?:{_HEADER}(?:{_LINE})*)*")
# Inside the matched grammar a line starting with "[" is a header and one starting with a
# key character is a key ("\n" first: a literal lets the engine skip ahead quickly).
_HEADERS = re.compile(rf"\n(\[\[package\]\]|\[{_BARE}(?:\.{_BARE})?\])(?=\n)")
_KEYS = re.compile(rf"\n({_BARE}|{_PLAIN_STR}) = ")
_GROUP_MARKERS = re.compile(rf"^markers = ({_GROUP_TABLE})$", re.MULTILINE)
_GROUP_KEYS = re.compile(rf"[{{,] ?({_BARE}) = ")
_NEXT_TABLE = re.compile(r"\n\[(?!package\.)")  # a header that ends a [[package]]
_NAME = re.compile(r'\n"?name"? = ')
_CONTENT_HASH = re.compile(r"^content-hash\s*=", re.MULTILINE)
_LOCK_VERSION = re.compile(r"^lock-version\s*=", re.MULTILINE)


@dataclass(frozen=True)
class LockSummary:
    """What check reads from one lock.

    ``lock.packages`` holds only the path-dependency entries unless ``complete`` (the full
    parse ran); header, lock-version and content-hash are always there. Lines are 1-based.
    """

    lock: LockFile
    complete: bool
    content_hash_line: int | None = None
    lock_version_line: int | None = None
    directory_lines: dict[str, int] = field(default_factory=dict)  # canonical name -> line


class _NotFast(Exception):
    """The text left the subset: use the full parser."""


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _check_tables(text: str) -> None:
    """TOML's rules the grammar cannot express: no key twice in a table, no table twice,
    no table that is also a key, [package.x] only under a [[package]]. ``text`` matched
    the grammar, so every line starting with a key or "[" is a key or a header."""
    parts = _HEADERS.split("\n" + text)  # [root body, header, body, header, body, ...]
    quoted = '\n"' in text
    bodies: list[set[str]] = []
    for body in parts[0::2]:
        found = _KEYS.findall(body)
        keys = {k.strip('"') for k in found} if quoted else set(found)
        if len(keys) != len(found):
            raise _NotFast
        bodies.append(keys)
    if bodies[0]:
        raise _NotFast  # root keys might clash with tables: rare, leave it to tomllib
    tables: dict[str, set[str]] = {}  # explicit [a] tables -> keys
    subtables: dict[str, set[str]] = {}  # a -> the b of every [a.b]
    element: set[str] | None = None  # keys of the [[package]] that [package.x] extends
    element_subtables: set[str] = set()
    for header, keys in zip(parts[1::2], bodies[1:]):
        if header == "[[package]]":
            if "package" in tables or "package" in subtables:
                raise _NotFast
            if "name" not in keys or "version" not in keys:
                raise _NotFast  # not a lock entry: parse_lock says so properly
            element, element_subtables = keys, set()
            continue
        top, _, sub = header[1:-1].partition(".")
        if top == "package":
            # the element's keys all come before its first [package.x]: it is complete
            if not sub or element is None or sub in element or sub in element_subtables:
                raise _NotFast
            element_subtables.add(sub)
        elif not sub:
            element = None
            if top in tables:
                raise _NotFast
            tables[top] = keys
        else:
            element = None
            defined = subtables.setdefault(top, set())
            if sub in defined:
                raise _NotFast
            defined.add(sub)
    if any(subs & tables.get(top, set()) for top, subs in subtables.items()):
        raise _NotFast
    if "markers = {" in text:
        for table in _GROUP_MARKERS.findall(text):
            group_keys = _GROUP_KEYS.findall(table)
            if len(set(group_keys)) != len(group_keys):
                raise _NotFast


def _without_files(text: str) -> str:
    """``text`` with every ``files = [...]`` array whose elements are all
    ``{file = "...", hash = "..."}`` lines emptied (the rest keeps its layout)."""
    return _FILES_ARRAY.sub("\nfiles = [\n]\n", text)


def _lines_of(text: str, offsets: list[int]) -> dict[int, int]:
    """1-based line of each offset, counting through the text once."""
    out: dict[int, int] = {}
    line, pos = 1, 0
    for offset in sorted(set(offsets)):
        line += text.count("\n", pos, offset)
        pos = offset
        out[offset] = line
    return out


def _fast(text: str, where: str) -> LockSummary:
    if text.startswith("\ufeff"):
        raise _NotFast
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            raise _NotFast
        text = text.replace("\r\n", "\n")  # TOML reads CRLF as a newline; same lines
    if not text.endswith("\n"):
        text += "\n"
    rest = _without_files(text)
    if _DOCUMENT.fullmatch(rest) is None:
        raise _NotFast
    _check_tables(rest)

    # The document is valid TOML. Parse only the parts check uses.
    first = text.split("\n", 1)[0]
    parts = [first + "\n\n"] if first.startswith("#") else []
    names: list[int] = []  # offset of each path dependency's name line
    pos = 0
    while True:
        found = text.find('\ntype = "directory"\n', pos)
        if found < 0:
            break
        pos = found + 1
        header = text.rfind("\n[", 0, found + 1)
        if not text.startswith("\n[package.source]\n", header):
            continue
        start = text.rfind("\n[[package]]\n", 0, header) + 1
        end_match = _NEXT_TABLE.search(text, found)
        parts.append(text[start : end_match.start() + 1 if end_match else len(text)])
        name = _NAME.search(text, start)
        assert name is not None
        names.append(name.start() + 1)
    offsets = list(names)
    content_hash_at = lock_version_at = None
    meta = text.find("\n[metadata]\n") + 1
    if meta:
        end_match = _NEXT_TABLE.search(text, meta + 1)
        meta_end = end_match.start() + 1 if end_match else len(text)
        parts.append(text[meta:meta_end])
        found_hash = _CONTENT_HASH.search(text, meta, meta_end)
        found_version = _LOCK_VERSION.search(text, meta, meta_end)
        content_hash_at = found_hash.start() if found_hash else None
        lock_version_at = found_version.start() if found_version else None
        offsets += [o for o in (content_hash_at, lock_version_at) if o is not None]
    lines = _lines_of(text, offsets)
    lock = parse_lock("".join(parts), where)
    directory_lines: dict[str, int] = {}
    for at, entry in zip(names, lock.packages):  # parse_lock keeps the order
        directory_lines.setdefault(canonical_name(entry["name"]), lines[at])
    return LockSummary(
        lock,
        False,
        lines.get(content_hash_at) if content_hash_at is not None else None,
        lines.get(lock_version_at) if lock_version_at is not None else None,
        directory_lines,
    )


def _slow(text: str, where: str) -> LockSummary:
    """The full parse, and the lines check reports, found by searching the text."""
    lock = parse_lock(text, where)
    meta = re.search(r"^\[\s*metadata\s*\]", text, re.MULTILINE)
    content_hash_line = lock_version_line = None
    if meta is not None:
        m = _CONTENT_HASH.search(text, meta.end())
        if m and lock.content_hash is not None:
            content_hash_line = _line_of(text, m.start())
        m = _LOCK_VERSION.search(text, meta.end())
        if m and lock.lock_version is not None:
            lock_version_line = _line_of(text, m.start())
    lines: dict[str, int] = {}
    headers = [m.end() for m in re.finditer(r"^[ \t]*\[\[[ \t]*package[ \t]*\]\]", text,
                                            re.MULTILINE)]
    for i, entry in enumerate(lock.packages):
        source = entry.get("source")
        if not isinstance(source, dict) or source.get("type") != "directory":
            continue
        name = canonical_name(entry["name"])
        at = headers[i] if len(headers) == len(lock.packages) else 0
        found = re.compile(r"^[ \t]*\"?name\"?[ \t]*=", re.MULTILINE).search(text, at)
        if found and name not in lines:
            lines[name] = _line_of(text, found.start())
    return LockSummary(lock, True, content_hash_line, lock_version_line, lines)


def read_lock(text: str, where: str = "poetry.lock", *, fast: bool = True) -> LockSummary:
    """Validate ``text`` as a lock and read what check needs, fast when it can.

    Raises :class:`~lockfix.errors.MalformedToml` (with line and column) for invalid TOML
    and :class:`~lockfix.errors.LockfixError` for TOML that is not a lock, as
    :func:`~lockfix.backends.poetry.lock.parse_lock` does. ``fast=False`` forces the full parse.
    """
    if fast:
        try:
            return _fast(text, where)
        except _NotFast:
            pass
    return _slow(text, where)
