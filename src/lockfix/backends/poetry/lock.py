"""The ``poetry.lock`` model and the package-level three-way merge.

A lock is never merged as text: each side is parsed, the ``[[package]]`` entries are
merged by canonical package name, and the result is rendered as a *preferred* lock that
Poetry then re-solves against the merged ``pyproject.toml``. Poetry keeps every locked
version it can, so the preferred lock decides what does not change; a name left out
(a "dropped" clash) is simply resolved afresh.

All lock-file generations share one model: the hashes that lock-version 1.1 and older
keep under ``[metadata.files]`` (or ``[metadata.hashes]`` before 1.1) are moved onto the
package entries as ``files``, as lock-version 2.x stores them, so entries from sides of
different generations compare directly. Parsing is fast (``lockfix check`` parses
hundreds of locks): a line reader for the layout Poetry writes, with ``tomllib`` as the
judge of anything else; tomlkit would be two orders of magnitude slower.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any, Optional

from packaging.version import InvalidVersion, Version

from lockfix.backends.base import LockClash, LockMerge, canonical_name
from lockfix.errors import LockfixError
from lockfix.policies import LockPolicy
from lockfix.toml import key_text as _key
from lockfix.toml import load_toml, number_or_bool
from lockfix.toml import string_text as _string

__all__ = [
    "LockClash",
    "LockFile",
    "LockMerge",
    "LockPolicy",
    "canonical_name",
    "directory_dependencies",
    "lock_is_parseable_by",
    "merge_locks",
    "parse_lock",
    "readable_lock",
    "render_lock",
]


#: What a lock without ``lock-version`` (Poetry 1.0 and older) is to Poetry 1.x, and the
#: label that lets Poetry 2.x read the same layout (it refuses a lock without one).
LEGACY_LOCK_VERSION = "1.0"

# What Poetry 2.3+ matches in the first line to learn which Poetry wrote the lock.
_GENERATOR_RE = re.compile(r"Poetry ([^ ]+)")


@dataclass(frozen=True)
class LockFile:
    """One ``poetry.lock`` as plain data, whatever its lock-version.

    ``metadata`` is the ``[metadata]`` table without ``files``/``hashes`` (those live on
    the packages); the ``lock_version``, ``python_versions`` and ``content_hash`` fields
    are authoritative over the same keys in ``metadata`` when rendering. ``extras`` is the
    top-level ``[extras]`` table (the root project's extras) and ``header`` the verbatim
    first comment line, kept so that a rendered lock still says who generated it.
    """

    generator: tuple[int, ...] | None
    lock_version: str | None
    content_hash: str | None
    python_versions: str | None
    packages: tuple[dict[str, Any], ...]
    metadata: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)
    header: str | None = None


# -- a fast reader for the layout Poetry writes --------------------------------------------
#
# tomllib reads about 4-6 MB/s: 11 ms for a 100-package lock of 45 kB, 33 ms for one of
# 200 kB, too slow for ``lockfix check`` over hundreds of locks. Poetry (through tomlkit)
# writes a small, line-regular subset of TOML: one regex pass splits the text into lines
# already classified, and the common values are read by regex (2 ms and 4 ms for those
# two). The moment the reader meets anything else (other spacing, dotted keys, a table
# defined twice, conflict markers, ...) it gives up and tomllib reads the whole text, so
# every result and every error is exactly tomllib's.


class _Unsure(Exception):
    """The text leaves the layout the fast reader knows: let tomllib decide."""


_PLAIN = r'"[^"\\\x00-\x1f\x7f]*"'
_ESCAPED = r'"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\["\\bfnrt])*"'
_PLAIN_RE = re.compile(_PLAIN)
_ESCAPED_RE = re.compile(_ESCAPED)
_FILE_RE = re.compile(r'\{file = "([^"\\\x00-\x1f\x7f]*)", hash = "([^"\\\x00-\x1f\x7f]*)"\}')
_STR_ARRAY_RE = re.compile(rf"\[(?:{_PLAIN}(?:, {_PLAIN})*)?\]")
_ESC_ARRAY_RE = re.compile(rf"\[(?:{_ESCAPED}(?:, {_ESCAPED})*)?\]")
_PLAIN_ITEM_RE = re.compile(r'"([^"\\\x00-\x1f\x7f]*)"')
_FILE_LINE_RE = re.compile(
    r'    \{file = "([^"\\\x00-\x1f\x7f]*)", hash = "([^"\\\x00-\x1f\x7f]*)"\},'
)
# One match per line: (key, plain string) for the commonest line, (key, raw value) for
# other assignments, or the whole line (headers, comments, array elements, the rest).
_LINE_RE = re.compile(
    r'^(?:([A-Za-z0-9_-]+) = "([^"\\\x00-\x1f\x7f]*)"'
    r'|([A-Za-z0-9_-]+|"[^"\\\x00-\x1f\x7f]+") = (.*)'
    r"|(.*))$",
    re.MULTILINE,
)
_PAIR_RE = re.compile(
    rf"([A-Za-z0-9_-]+) = ({_ESCAPED}|true|false|\[(?:{_ESCAPED}(?:, {_ESCAPED})*)?\])(, |)"
)
_SUB_TABLE_RE = re.compile(r"\[(package|metadata)\.([A-Za-z0-9_-]+)\]")
_BAD_CHAR_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _fast_string(text: str) -> str:
    """A basic string known to use only the short escapes, which JSON shares."""
    if "\\" not in text:
        return text[1:-1]
    if "\\\\" not in text and text.count("\\") == text.count('\\"'):
        return text[1:-1].replace('\\"', '"')  # markers: only quotes are escaped
    return str(json.loads(text, strict=False))


def _fast_inline_table(text: str) -> dict[str, Any] | None:
    """``{key = value, ...}`` with string, boolean or string-array values, else None."""
    table: dict[str, Any] = {}
    pos, end = 1, len(text) - 1
    inner = text[:end]
    while pos < end:
        m = _PAIR_RE.match(inner, pos)
        if m is None or m.group(1) in table or (m.end() == end) != (m.group(3) == ""):
            return None
        key, raw = m.group(1), m.group(2)
        if raw[0] == '"':
            table[key] = _fast_string(raw)
        elif raw[0] == "[":
            table[key] = [_fast_string(v) for v in _ESCAPED_RE.findall(raw)]
        else:
            table[key] = raw == "true"
        pos = m.end()
    return table


def _fast_value(text: str) -> Any:
    """One value on one line; the common shapes by regex, the rest by tomllib."""
    if _PLAIN_RE.fullmatch(text):
        return text[1:-1]
    if text == "true" or text == "false":
        return text == "true"
    if text[:1] == "[":
        if _STR_ARRAY_RE.fullmatch(text):
            return _PLAIN_ITEM_RE.findall(text)
        if _ESC_ARRAY_RE.fullmatch(text):
            return [_fast_string(v) for v in _ESCAPED_RE.findall(text)]
    if text[:1] == "{" and text[-1:] == "}":
        m = _FILE_RE.fullmatch(text)
        if m:
            return {"file": m.group(1), "hash": m.group(2)}
        table = _fast_inline_table(text)
        if table is not None:
            return table
    elif _ESCAPED_RE.fullmatch(text):
        return _fast_string(text)  # TOML's short escapes are JSON's
    try:
        return load_toml("v = " + text, "value")["v"]
    except LockfixError:
        raise _Unsure from None


def _fast_load(text: str) -> dict[str, Any]:
    """Read a lock in Poetry's own layout as tomllib would, or raise :class:`_Unsure`."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            raise _Unsure
    if text.startswith("\ufeff"):
        raise _Unsure
    root: dict[str, Any] = {}
    packages: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    table = root
    rows: list[tuple[str, str, str, str, str]] = _LINE_RE.findall(text)  # one C-level pass
    i, end = 0, len(rows)
    while i < end:
        key, value, other_key, raw, line = rows[i]
        i += 1
        if key:
            if key in table:
                raise _Unsure
            table[key] = value
            continue
        if other_key:
            key = other_key[1:-1] if other_key[0] == '"' else other_key
            if key in table:
                raise _Unsure
            if raw == "[":
                table[key], i = _fast_array(rows, i)
            else:
                table[key] = _fast_value(raw)
            continue
        line = line.strip(" \t")
        if not line:
            continue
        if line[0] == "#":
            # every other line passes a pattern that excludes control characters
            if _BAD_CHAR_RE.search(line):
                raise _Unsure
            continue
        if line == "[[package]]":
            if packages is None:
                if "package" in root:
                    raise _Unsure
                packages = root["package"] = []
            table = {}
            packages.append(table)
        elif line in ("[metadata]", "[extras]"):
            if line[1:-1] in root:
                raise _Unsure
            table = root[line[1:-1]] = {}
            if line == "[metadata]":
                metadata = table
        else:
            m = _SUB_TABLE_RE.fullmatch(line)
            if m is None:
                raise _Unsure
            if m.group(1) == "package":
                if not packages:
                    raise _Unsure
                parent = packages[-1]
            else:
                if metadata is None:
                    if "metadata" in root:  # a value, not a table we opened
                        raise _Unsure
                    metadata = root["metadata"] = {}
                parent = metadata
            if m.group(2) in parent:
                raise _Unsure
            table = parent[m.group(2)] = {}
    return root


def _fast_array(rows: list[tuple[str, str, str, str, str]], i: int) -> tuple[list[Any], int]:
    """The elements of a multi-line array, one per line, and the row after its "]"."""
    items: list[Any] = []
    end = len(rows)
    while i < end:
        key, _, other_key, _, item = rows[i]
        i += 1
        if key or other_key:
            break
        m = _FILE_LINE_RE.fullmatch(item)
        if m:
            items.append({"file": m.group(1), "hash": m.group(2)})
            continue
        item = item.strip(" \t")
        if item == "]":
            return items, i
        if not item.endswith(",") or item.startswith("#"):
            break
        items.append(_fast_value(item[:-1]))
    raise _Unsure


def _load_lock_toml(text: str, where: str) -> dict[str, Any]:
    try:
        return _fast_load(text)
    except _Unsure:
        return load_toml(text, where)


# -- parsing ------------------------------------------------------------------------------


def generator_version(header: str | None) -> str | None:
    """The Poetry version named in a lock's first line, exactly as Poetry 2.3+ reads it."""
    if header is None:
        return None
    m = _GENERATOR_RE.search(header)
    return m.group(1) if m else None


def _release(version: str | None) -> tuple[int, ...] | None:
    if version is None:
        return None
    try:
        return Version(version).release
    except InvalidVersion:
        return None


def _not_a_lock(where: str, detail: str) -> LockfixError:
    return LockfixError(f"{where}: not a Poetry lock file: {detail}")


def _optional_str(meta: Mapping[str, Any], key: str, where: str) -> str | None:
    value = meta.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _not_a_lock(where, f"metadata.{key} must be a string, not {value!r}")


def _lookup(table: Mapping[str, Any], name: str) -> Any:
    """``table[name]``, falling back on the canonical spelling (old files vary in case)."""
    if name in table:
        return table[name]
    wanted = canonical_name(name)
    for key, value in table.items():
        if canonical_name(key) == wanted:
            return value
    return None


def _legacy_files(meta: Mapping[str, Any], name: str) -> list[Any] | None:
    """Files of ``name`` kept in ``[metadata]`` by lock-version 1.1 and older.

    Mirrors Poetry's reader: ``hashes`` (Poetry < 1.0, hashes without file names, so the
    hash doubles as the name) win over ``files``; a name missing there has no files.
    """
    hashes = meta.get("hashes")
    if isinstance(hashes, Mapping):
        found = _lookup(hashes, name)
        return [{"file": h, "hash": h} for h in found] if isinstance(found, list) else []
    files = meta.get("files")
    if isinstance(files, Mapping):
        found = _lookup(files, name)
        if isinstance(found, list):
            return [dict(f) if isinstance(f, Mapping) else f for f in found]
        return []
    return None


def parse_lock(text: str, where: str = "poetry.lock") -> LockFile:
    """Parse a lock of any generation into the shared model.

    Invalid TOML raises :class:`~lockfix.errors.MalformedToml` naming ``where``; valid TOML
    that cannot be a lock (a package without a name) raises a plain ``LockfixError``.
    """
    data = _load_lock_toml(text, where)
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    header = first if first.startswith("#") else None

    meta = data.get("metadata", {})
    if not isinstance(meta, dict):
        raise _not_a_lock(where, "[metadata] is not a table")
    raw_packages = data.get("package", [])
    if not isinstance(raw_packages, list):
        raise _not_a_lock(where, "package is not an array of tables")
    extras = data.get("extras", {})
    if not isinstance(extras, dict):
        raise _not_a_lock(where, "[extras] is not a table")

    lock_version = _optional_str(meta, "lock-version", where)
    legacy = not _modern_format(lock_version)
    packages: list[dict[str, Any]] = []
    for i, raw in enumerate(raw_packages, 1):
        if not isinstance(raw, dict):
            raise _not_a_lock(where, f"[[package]] #{i} is not a table")
        name, version = raw.get("name"), raw.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            raise _not_a_lock(where, f"[[package]] #{i} needs a string name and version")
        entry = dict(raw)
        if "files" not in entry:
            files = _legacy_files(meta, name)
            if files is not None or legacy:
                entry["files"] = files or []
        packages.append(entry)

    return LockFile(
        generator=_release(generator_version(header)),
        lock_version=lock_version,
        content_hash=_optional_str(meta, "content-hash", where),
        python_versions=_optional_str(meta, "python-versions", where),
        packages=tuple(packages),
        metadata={k: v for k, v in meta.items() if k not in ("files", "hashes")},
        extras=extras,
        header=header,
    )


def directory_dependencies(lock: LockFile) -> dict[str, dict[str, Any]]:
    """Path dependencies (``source.type = "directory"``) by canonical name.

    Their entries record the dependencies read from the other package's pyproject.toml
    at lock time, which is how a changed path dependency is noticed.
    """
    found: dict[str, dict[str, Any]] = {}
    for entry in lock.packages:
        source = entry.get("source")
        if isinstance(source, Mapping) and source.get("type") == "directory":
            found.setdefault(canonical_name(entry["name"]), entry)
    return found


# -- which Poetry reads which lock ---------------------------------------------------------


def _lock_version_release(lock_version: str | None) -> tuple[int, ...] | None:
    rel = _release(lock_version)
    if rel is None:
        return None
    return rel + (0,) * (2 - len(rel)) if len(rel) < 2 else rel


def lock_is_parseable_by(lock_version: str | None, poetry_version: tuple[int, ...]) -> bool:
    """Whether Poetry ``poetry_version`` reads a lock of ``lock_version`` at all.

    Follows ``Locker._get_lock_data``: 1.3 up to 2.x accept lock-version ``>=1,<3``
    (a newer minor only warns); 1.1 and 1.2 accept ``^1.0``; a file without lock-version
    counts as "1.0" for Poetry 1.x and is refused since Poetry 2.0 (it dropped the
    pre-1.1 format). Poetry 1.0 checked nothing but could only read the
    ``[metadata.files]`` layout, i.e. 1.x. Poetry 3+ is assumed to behave like 2.x.
    """
    if lock_version is None:
        return poetry_version < (2,)
    rel = _lock_version_release(lock_version)
    if rel is None:
        return False
    if poetry_version < (1, 3):
        return (1,) <= rel < (2,)
    return (1,) <= rel < (3,)


def readable_lock(text: str, lock: LockFile) -> tuple[str, str | None]:
    """``text`` as a preferred lock every Poetry reads, and its lock-version.

    A lock older than lock-version 1.1 without the key (Poetry 1.0 and older) is given
    ``lock-version = "1.0"``: what Poetry 1.x assumes anyway, and what Poetry 2.x needs
    to read it instead of resolving everything afresh. Any other lock is left as it is.
    """
    if lock.lock_version is not None:
        return text, lock.lock_version
    labelled = render_lock(replace(lock, lock_version=LEGACY_LOCK_VERSION))
    if text.lstrip("\ufeff").split("\n", 1)[0].endswith("\r"):
        labelled = labelled.replace("\n", "\r\n")
    return labelled, LEGACY_LOCK_VERSION


# -- the merge ------------------------------------------------------------------------------

Group = Optional[list[dict[str, Any]]]

_SOURCE_KEYS = ("type", "url", "reference", "resolved_reference", "subdirectory")


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _group_key(group: Group) -> tuple[str, ...] | None:
    """The group as an order-insensitive value."""
    return None if group is None else tuple(sorted(_canonical_json(e) for e in group))


def _identity(group: Group) -> tuple[str, ...] | None:
    """What was resolved: versions and where they come from.

    Everything else in an entry is either a property of that release (files,
    dependencies) or derived from the root project and recomputed by Poetry on every
    lock (``groups``, ``markers``, ``optional``, ``category``); a lock-version upgrade
    changes those alone, and must not turn every one-sided version bump into a clash.
    """
    if group is None:
        return None
    keys = []
    for entry in group:
        source = entry.get("source")
        src = source if isinstance(source, Mapping) else {}
        keys.append(_canonical_json([entry.get("version"), [src.get(k) for k in _SOURCE_KEYS]]))
    return tuple(sorted(keys))


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)


def _versions(group: Group) -> tuple[str, ...]:
    if group is None:
        return ()
    return tuple(sorted({str(e["version"]) for e in group}, key=_version_key))


def _highest(group: list[dict[str, Any]]) -> Version | None:
    try:
        return max(Version(str(e["version"])) for e in group)
    except InvalidVersion:
        return None


def _by_name(lock: LockFile | None) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    if lock is not None:
        for entry in lock.packages:
            groups.setdefault(canonical_name(entry["name"]), []).append(entry)
    return groups


_UNSETTLED = object()  # _one_sided's answer for a clash


def _one_sided(base: Group, ours: Group, theirs: Group, two_way: bool) -> Any:
    """Three-way merge of one name's group: the group to keep (None: none), or
    ``_UNSETTLED`` when both sides changed what is resolved, differently (a clash)."""
    key_ours, key_theirs = _group_key(ours), _group_key(theirs)
    if key_ours == key_theirs:
        return ours
    if two_way:
        if ours is None:
            return theirs
        if theirs is None:
            return ours
    else:
        key_base = _group_key(base)
        if key_base == key_ours:
            return theirs
        if key_base == key_theirs:
            return ours
    # Both sides changed the entries. Only a change of what was resolved is a clash.
    id_ours, id_theirs = _identity(ours), _identity(theirs)
    if id_ours == id_theirs:
        return ours
    if not two_way:
        id_base = _identity(base)
        if id_base == id_ours:
            return theirs
        if id_base == id_theirs:
            return ours
    return _UNSETTLED


def _higher_first(ours: Group, theirs: Group) -> list[tuple[Group, str]]:
    """Both sides as (group, resolution), the one ``higher`` keeps first.

    A present group beats a removal (Poetry ignores locked entries it no longer needs,
    so keeping one costs nothing); equal highest versions, or unparsable ones, put
    theirs first.
    """
    if ours is None or theirs is None:
        take_ours = theirs is None
    else:
        high_ours, high_theirs = _highest(ours), _highest(theirs)
        take_ours = high_ours is not None and high_theirs is not None and high_ours > high_theirs
    order = [(ours, "ours"), (theirs, "theirs")]
    return order if take_ours else order[::-1]


def _by_policy(ours: Group, theirs: Group, policy: LockPolicy) -> tuple[Group, str]:
    """A clash decided by ``policy`` alone: (the group to keep, the resolution)."""
    if policy in ("drop", "higher-or-drop"):  # the latter without a manifest to judge by
        return None, "dropped"
    if policy == "ours":
        return ours, "ours"
    if policy == "theirs":
        return theirs, "theirs"
    if policy == "higher":
        return _higher_first(ours, theirs)[0]
    raise ValueError(f"unknown lock policy {policy!r}")


def _decide_clashes(
    clashed: Mapping[str, tuple[Group, Group]],
    kept: Sequence[Mapping[str, Any]],
    policy: LockPolicy,
    manifest: Mapping[str, Any] | None,
) -> dict[str, tuple[Group, str]]:
    """Settle every clash: name -> (the group to keep, "ours" | "theirs" | "dropped").

    With the merged manifest, two rules come before the policy. A git or URL dependency
    keeps the one side's entry whose source the merged manifest names (the other side's
    is of no use to Poetry, which would fetch the repository again), whatever the
    policy. ``higher-or-drop`` keeps the higher side's entry that Poetry would take as
    it is: allowed by the manifest's constraints on that name and by what the other kept
    entries require of it (poetry-core, Poetry's own rules); else the other side's if
    that is allowed; else it drops the name. Either way a kept package stays at a version
    one side chose, and Poetry has nothing to look up for it.
    """
    if manifest is None or not clashed:
        return {name: _by_policy(o, t, policy) for name, (o, t) in clashed.items()}
    from lockfix.backends.poetry import fit  # poetry-core: only when a clash needs it

    wanted = fit.manifest_requirements(manifest, set(clashed))
    decided: dict[str, tuple[Group, str]] = {}
    candidates: dict[str, list[tuple[Group, str]]] = {}
    for name, (ours, theirs) in clashed.items():
        order = _higher_first(ours, theirs)
        fits = [fit.group_fits(group, wanted.get(name, [])) for group, _ in order]
        if fit.is_direct_origin(wanted.get(name, [])) and fits.count(True) == 1 and None not in fits:
            decided[name] = order[fits.index(True)]
        elif policy == "higher-or-drop":
            candidates[name] = [side for side, ok in zip(order, fits) if ok]
        else:
            decided[name] = _by_policy(ours, theirs, policy)
    # Then what the other kept entries require of each candidate. A candidate they rule
    # out gives way to the next one (higher, lower, dropped) and never comes back, so
    # the loop ends; it may settle lower than needed, never on an entry that does not fit.
    chosen = {name: 0 for name in candidates}
    changed = True
    while changed:
        changed = False
        entries = [*kept]
        entries.extend(e for group, _ in decided.values() for e in group or ())
        for name, i in chosen.items():
            if i < len(candidates[name]):
                entries.extend(candidates[name][i][0] or ())
        required = fit.requirements_on(entries, set(candidates))
        for name, i in chosen.items():
            if i < len(candidates[name]):
                group = candidates[name][i][0]
                if not fit.group_fits(group, required.get(name, [])):
                    chosen[name] = i + 1
                    changed = True
    for name, i in chosen.items():
        decided[name] = candidates[name][i] if i < len(candidates[name]) else (None, "dropped")
    return decided


def _merge_table(
    base: Mapping[str, Any] | None, ours: Mapping[str, Any], theirs: Mapping[str, Any]
) -> dict[str, Any]:
    """Key-level three-way merge where a clash keeps ours (Poetry rewrites these anyway)."""
    missing = object()
    out: dict[str, Any] = {}
    for key in [*ours, *(k for k in theirs if k not in ours)]:
        o, t = ours.get(key, missing), theirs.get(key, missing)
        b = missing if base is None else base.get(key, missing)
        if base is None:
            value = o if o is not missing else t
        elif o == t or b == t:
            value = o
        elif b == o:
            value = t
        else:
            value = o
        if value is not missing:
            out[key] = value
    return out


def _sort_key(entry: Mapping[str, Any]) -> tuple[Any, ...]:
    """Poetry's order: name, version, then source; the full entry breaks any tie."""
    source = entry.get("source")
    src = source if isinstance(source, Mapping) else {}
    return (
        canonical_name(entry["name"]),
        _version_key(str(entry["version"])),
        str(src.get("type") or ""),
        str(src.get("url") or ""),
        str(src.get("subdirectory") or ""),
        str(src.get("reference") or ""),
        str(src.get("resolved_reference") or ""),
        _canonical_json(entry),
    )


def _lock_version_rank(lock_version: str | None) -> tuple[int, ...]:
    return _lock_version_release(lock_version) or ()


def merge_locks(
    base: str | None,
    ours: str,
    theirs: str,
    policy: LockPolicy = "higher-or-drop",
    *,
    where: str = "poetry.lock",
    manifest: Mapping[str, Any] | None = None,
) -> LockMerge:
    """Merge three lock texts package by package into a preferred lock.

    Per canonical name: a one-sided change wins, identical changes agree, and a change
    on both sides to *what is resolved* (versions, sources) is a clash settled by
    ``policy``, judged against ``manifest`` (the merged pyproject.toml data) when given:
    see :func:`_decide_clashes`. ``base=None`` (no common ancestor) unions both sides.
    The result uses the newer lock-version of the two sides (``"1.0"`` when neither has
    one) and ours' header, content-hash and python-versions: Poetry recomputes the last
    two when it relocks.
    """
    lock_ours = parse_lock(ours, f"{where} (ours)")
    lock_theirs = parse_lock(theirs, f"{where} (theirs)")
    lock_base = None if base is None else parse_lock(base, f"{where} (base)")
    two_way = lock_base is None

    groups_base, groups_ours = _by_name(lock_base), _by_name(lock_ours)
    groups_theirs = _by_name(lock_theirs)
    kept: list[dict[str, Any]] = []
    clashed: dict[str, tuple[Group, Group]] = {}
    for name in sorted(set(groups_base) | set(groups_ours) | set(groups_theirs)):
        group_ours, group_theirs = groups_ours.get(name), groups_theirs.get(name)
        group = _one_sided(groups_base.get(name), group_ours, group_theirs, two_way)
        if group is _UNSETTLED:
            clashed[name] = (group_ours, group_theirs)
        elif group:
            kept.extend(group)
    clashes: list[LockClash] = []
    for name, (group, resolution) in sorted(_decide_clashes(clashed, kept, policy, manifest).items()):
        kept.extend(group or ())
        clashes.append(
            LockClash(
                name=name,
                base=_versions(groups_base.get(name)),
                ours=_versions(clashed[name][0]),
                theirs=_versions(clashed[name][1]),
                resolution=resolution,
            )
        )
    kept.sort(key=_sort_key)

    lock_version = max((lock_ours.lock_version, lock_theirs.lock_version), key=_lock_version_rank)
    if lock_version is None:
        # Poetry 1.x reads a lock without lock-version as "1.0"; Poetry 2 refuses it but
        # still reads that layout once it says so. Labelled, every Poetry keeps its versions.
        lock_version = LEGACY_LOCK_VERSION
    if _lock_version_rank(lock_version) >= (2, 1) and any("groups" not in e for e in kept):
        # A 2.1 lock promises `groups` on every package (Poetry 2 reads them without a
        # fallback); entries that came from an older side do not have them.
        lock_version = "2.0"
    content_hash = lock_ours.content_hash or lock_theirs.content_hash
    python_versions = lock_ours.python_versions or lock_theirs.python_versions
    metadata = _merge_table(None, lock_ours.metadata, lock_theirs.metadata)
    for key, value in (
        ("lock-version", lock_version),
        ("python-versions", python_versions),
        ("content-hash", content_hash),
    ):
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    header_side = lock_ours if lock_ours.header is not None else lock_theirs
    merged = LockFile(
        generator=header_side.generator,
        lock_version=lock_version,
        content_hash=content_hash,
        python_versions=python_versions,
        packages=tuple(kept),
        metadata=metadata,
        extras=_merge_table(
            None if lock_base is None else lock_base.extras, lock_ours.extras, lock_theirs.extras
        ),
        header=header_side.header,
    )
    text = render_lock(merged)
    if ours.lstrip("\ufeff").split("\n", 1)[0].endswith("\r"):
        # Poetry keeps the line endings of the lock it rewrites: keep ours'.
        text = text.replace("\n", "\r\n")
    return LockMerge(text=text, clashes=tuple(clashes), lock_version=lock_version)


# -- rendering ---------------------------------------------------------------------------

# Poetry's key order within [[package]]; keys it never writes follow in their own order.
_PACKAGE_KEYS = (
    "name",
    "version",
    "description",
    "category",
    "optional",
    "python-versions",
    "groups",
    "markers",
    "files",
    "develop",
)
_PACKAGE_TABLES = ("dependencies", "extras", "source")
_INLINE_IN_PACKAGE = frozenset({"markers"})
_METADATA_KEYS = ("lock-version", "python-versions", "content-hash")


def _value(value: Any, *, multiline: bool = False) -> str:
    """One TOML value in the layout Poetry (via tomlkit) writes."""
    if isinstance(value, str):
        return _string(value)
    scalar = number_or_bool(value)
    if scalar is not None:
        return scalar
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        if multiline and value:
            return "[\n" + "".join(f"    {_value(v)},\n" for v in value) + "]"
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to a lock file")


def _ordered(table: Mapping[str, Any], first: Sequence[str]) -> list[str]:
    return [k for k in first if k in table] + [k for k in table if k not in first]


def _table_lines(header: str, table: Mapping[str, Any], *, multiline: bool = False) -> list[str]:
    """A ``[header]`` whose dict values are inline tables and arrays one line each
    (or one element a line with ``multiline``, as Poetry lays out dependency arrays)."""
    lines = [header]
    for key, value in table.items():
        lines.append(f"{_key(key)} = {_value(value, multiline=multiline)}")
    return lines


def _modern_format(lock_version: str | None) -> bool:
    """2.x keeps files on each package; 1.1 and older under [metadata]."""
    if lock_version is None:
        return False
    rel = _lock_version_release(lock_version)
    return rel is None or rel >= (2,)


def _package_blocks(entry: Mapping[str, Any], modern: bool) -> list[list[str]]:
    """One ``[[package]]`` in tomlkit's layout: plain values first, then the inline
    ``markers`` table, then the sub-tables (tomlkit moves dict values last)."""
    keys = _ordered(entry, _PACKAGE_KEYS)
    plain = [k for k in keys if not isinstance(entry[k], Mapping)]
    inline = [k for k in keys if k in _INLINE_IN_PACKAGE and isinstance(entry[k], Mapping)]
    if not modern and "files" in plain:
        plain.remove("files")
    first = ["[[package]]"]
    for key in plain + inline:
        first.append(f"{_key(key)} = {_value(entry[key], multiline=key == 'files')}")
    blocks = [first]
    for key in _ordered(entry, _PACKAGE_TABLES):
        value = entry[key]
        if key in _INLINE_IN_PACKAGE or not isinstance(value, Mapping):
            continue
        blocks.append(
            _table_lines(f"[package.{_key(key)}]", value, multiline=key == "dependencies")
        )
    return blocks


def _legacy_files_table(packages: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """``[metadata.files]``: one list per name, the union over that name's entries
    (1.1 cannot tell which file belongs to which version, so each entry reads them all)."""
    table: dict[str, list[Any]] = {}
    spelled: dict[str, str] = {}
    for entry in packages:
        files = entry.get("files")
        files = files if isinstance(files, list) else []
        canon = canonical_name(entry["name"])
        if canon not in spelled:
            spelled[canon] = entry["name"]
            table[entry["name"]] = list(files)
            continue
        current = table[spelled[canon]]
        known = {_canonical_json(f) for f in current}
        for f in files:
            if _canonical_json(f) not in known:
                current.append(f)
                known.add(_canonical_json(f))
    return table


def render_lock(lock: LockFile) -> str:
    """Serialize ``lock`` in its lock-version's layout, as Poetry would lay it out.

    Deterministic (the same lock, key order included, gives the same text; no clock,
    no environment). The header, then ``[[package]]``
    entries in the order given, the root ``[extras]`` and ``[metadata]`` (with
    ``[metadata.files]``, or ``[metadata.hashes]`` for a pre-1.1 lock that had them,
    when the lock-version predates per-package files).
    """
    modern = _modern_format(lock.lock_version)
    blocks: list[list[str]] = []
    for entry in lock.packages:
        blocks.extend(_package_blocks(entry, modern))
    if lock.extras:
        blocks.append(_table_lines("[extras]", lock.extras))

    metadata = {k: v for k, v in lock.metadata.items() if k not in ("files", "hashes")}
    for key, value in zip(
        _METADATA_KEYS, (lock.lock_version, lock.python_versions, lock.content_hash)
    ):
        metadata.pop(key, None)
        if value is not None:
            metadata[key] = value
    ordered = {k: metadata[k] for k in _ordered(metadata, _METADATA_KEYS)}
    scalars = {k: v for k, v in ordered.items() if not isinstance(v, Mapping)}
    blocks.append(_table_lines("[metadata]", scalars))
    for key, value in ordered.items():
        if isinstance(value, Mapping):
            blocks.append(_table_lines(f"[metadata.{_key(key)}]", value))
    if not modern:
        files = _legacy_files_table(lock.packages)
        if _lock_version_rank(lock.lock_version) < (1, 1) and _hashes_only(files):
            hashes = {k: [f["hash"] for f in v] for k, v in files.items()}
            blocks.append(_table_lines("[metadata.hashes]", hashes))
        else:
            blocks.append(_table_lines("[metadata.files]", files, multiline=True))

    body = "\n".join("\n".join(b) + "\n" for b in blocks)
    if not lock.packages:
        # Poetry reads lock_data["package"] unconditionally: an empty lock must say so.
        body = "package = []\n\n" + body
        return body if lock.header is None else f"{lock.header}\n{body}"
    return body if lock.header is None else f"{lock.header}\n\n{body}"


def _hashes_only(files: Mapping[str, list[Any]]) -> bool:
    """Files that came from a pre-1.0 ``[metadata.hashes]`` (the hash stands in for the name)."""
    entries = [f for fs in files.values() for f in fs]
    return bool(entries) and all(
        isinstance(f, Mapping) and set(f) == {"file", "hash"} and f["file"] == f["hash"]
        for f in entries
    )
