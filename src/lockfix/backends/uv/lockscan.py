"""Is this ``uv.lock`` valid TOML? Answered fast for the layout uv writes.

``lockfix check`` must report a ``uv.lock`` that is not valid TOML, and ``tomllib`` reads
about 1 MB/s of lock (~10 ms a typical lock: 2 s for a 200-package monorepo, twice the
budget). uv writes a small, line-regular subset of TOML, so one pass over the lines with
strict regular expressions says "valid" for it: every line must be a blank line, a table
header uv writes, a ``key = value`` of the value shapes uv writes (strings, integers,
booleans, inline tables nested two deep, one-line arrays of those, the opening of a
multi-line array), an element of an open multi-line array, or its closing ``]``; keys
must not repeat within a table, nor sub-tables within a package. The moment a line is
anything else (a comment, a literal or multi-line string, other spacing, a conflict
marker), the answer is "not sure" and tomllib decides, so every verdict that reaches a
user is exactly tomllib's.
"""

from __future__ import annotations

import re

_KEY = r"[A-Za-z0-9_-]+"
_STR = r'"(?:[^"\\\x00-\x1f\x7f]|\\["\\bfnrt]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*"'
_SCALAR = rf"(?:{_STR}|-?(?:0|[1-9][0-9]*)|true|false)"
_INLINE1 = rf"\{{ {_KEY} = {_SCALAR}(?:, {_KEY} = {_SCALAR})* \}}"
_VALUE1 = rf"(?:{_SCALAR}|{_INLINE1})"
_INLINE2 = rf"\{{ {_KEY} = {_VALUE1}(?:, {_KEY} = {_VALUE1})* \}}"
_VALUE2 = rf"(?:{_SCALAR}|{_INLINE2})"
_ARRAY = rf"\[(?:{_VALUE2}(?:, {_VALUE2})*)?\]"

# The commonest lines, by far (every wheel, every sdist, every dependency edge), in the
# exact shapes uv writes them, with fixed distinct keys: matched first, cheaply.
_PLAIN = r'"[^"\\\x00-\x1f\x7f]*"'
_FILE = (rf"\{{ url = {_PLAIN}, hash = {_PLAIN}(?:, size = (?:0|[1-9][0-9]*))?"
         rf"(?:, upload-time = {_PLAIN})? \}}")
_COMMON_ELEMENT_RE = re.compile(
    rf"    (?:{_FILE}|\{{ name = {_PLAIN}(?:, marker = {_PLAIN})? \}}),"
)
_COMMON_ASSIGN_RE = re.compile(
    rf"(name|version|sdist|source) = (?:{_PLAIN}|{_FILE}|\{{ registry = {_PLAIN} \}})"
)

_ASSIGN_RE = re.compile(rf"({_KEY}) = (?:({_VALUE2}|{_ARRAY})|(\[))")
_ELEMENT_RE = re.compile(rf"    {_VALUE2},")
_HEADER_RE = re.compile(rf"(\[\[?)({_KEY}(?:\.{_KEY})*)(\]\]?)")


_INLINE_KEY_RE = re.compile(rf"({_KEY}) = ")


def _repeats_a_key(line: str) -> bool:
    """Conservative: any key name written twice on a line with inline tables (a repeat in
    one inline table is invalid TOML; across two, or inside a string, it only costs the
    fallback to tomllib)."""
    if "{" not in line:
        return False
    names = _INLINE_KEY_RE.findall(line)
    return len(names) != len(set(names))


def valid_fast(text: str) -> bool:
    """True only if ``text`` is certainly valid TOML; False means "let tomllib decide"."""
    if text.startswith("\ufeff") or "\r" in text:
        return False
    keys: dict[str, set[str]] = {"": set()}  # table -> its keys (sub-tables count as keys)
    table = ""
    in_array = False
    package_array = False  # `package` is an array of tables (`[[package]]` seen)
    for line in text.split("\n"):
        if in_array:
            if line == "]":
                in_array = False
            elif not _COMMON_ELEMENT_RE.fullmatch(line) and (
                not _ELEMENT_RE.fullmatch(line) or _repeats_a_key(line)
            ):
                return False
            continue
        if not line:
            continue
        m = _COMMON_ASSIGN_RE.fullmatch(line)
        if m:
            if m.group(1) in keys[table]:
                return False
            keys[table].add(m.group(1))
            continue
        m = _ASSIGN_RE.fullmatch(line)
        if m:
            if m.group(1) in keys[table] or _repeats_a_key(line):
                return False
            if table == "" and m.group(1) == "package":
                return False  # not uv's layout: let tomllib (and the caller) judge it
            keys[table].add(m.group(1))
            in_array = m.group(3) is not None
            continue
        h = _HEADER_RE.fullmatch(line)
        if h is None:
            return False
        name = h.group(2)
        if (h.group(1), h.group(3)) == ("[[", "]]"):
            # the one array of tables uv writes; each entry starts a fresh set of tables
            if name != "package" or ("package" in keys[""] and not package_array):
                return False
            package_array = True
            keys = {t: k for t, k in keys.items() if t != "package" and not t.startswith("package.")}
            keys[""].add("package")
            keys["package"] = set()
        elif (h.group(1), h.group(3)) == ("[", "]"):
            parent, _, leaf = name.rpartition(".")
            # uv always writes a parent table before its sub-tables: anything else, tomllib
            if name in keys or parent not in keys or leaf in keys[parent]:
                return False
            keys[parent].add(leaf)
            keys[name] = set()
        else:
            return False
        table = name
    return not in_array


_VERSION_RE = re.compile(r"^version = (0|[1-9][0-9]*)$", re.MULTILINE)


def head_version(text: str) -> int | None:
    """The top-level ``version`` of a lock :func:`valid_fast` accepted (it precedes the
    first table header)."""
    head = text.split("\n[", 1)[0]
    m = _VERSION_RE.search(head)
    return int(m.group(1)) if m else None
