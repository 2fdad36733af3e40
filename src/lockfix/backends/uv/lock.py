"""The ``uv.lock`` model and the package-level three-way merge.

uv refuses a conflicted ``uv.lock``, and ``uv lock`` keeps every locked version that still
satisfies the project (the existing lock is its list of preferences). So a uv lock is
merged as a Poetry lock is: each side is parsed, the ``[[package]]`` entries are merged
by canonical name into a *preferred* lock, and uv re-solves it against the merged
``pyproject.toml`` files. A name dropped from the preferred lock is resolved afresh.

Three things differ from ``poetry.lock``:

- One name may be locked several times (a forked resolution, one entry per fork with its
  own ``resolution-markers``), so an entry is identified by (name, version, source) and
  a name's entries are compared as a set.
- The project and the workspace members (``virtual``/``editable``/``directory`` sources)
  are written by uv from the manifests: they are never a clash.
- Entries point at each other: ``dependencies = [{ name = "x" }]`` names the only entry
  of ``x``, ``{ name = "x", version = "1", source = {...} }`` one of several, and uv
  refuses the whole file when a reference points nowhere (checked on uv 0.5.31 and
  0.13.8). It also *accepts* a lock that merely lacks an edge or mixes two resolutions,
  without re-resolving. So when the merged entries are not exactly one side's, the
  references are repaired and the member entries are left out: uv then finds its roots
  missing, re-resolves everything with the merged entries as preferences, and writes
  every edge itself (see :func:`merge_locks`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Optional

from packaging.version import InvalidVersion, Version

from lockfix.backends.base import LockClash, LockMerge, canonical_name
from lockfix.errors import LockfixError
from lockfix.markers import find_markers
from lockfix.policies import LockPolicy
from lockfix.toml import key_text as _key
from lockfix.toml import load_toml, number_or_bool
from lockfix.toml import string_text as _string

__all__ = [
    "LOCAL_SOURCES",
    "LockClash",
    "LockMerge",
    "LockPolicy",
    "UvLock",
    "entry_id",
    "is_local",
    "merge_locks",
    "parse_lock",
    "render_lock",
]

#: Sources uv builds from a directory of the repository on every lock (the project,
#: workspace members, path dependencies): their entries follow the manifests.
LOCAL_SOURCES = frozenset({"virtual", "editable", "directory"})
#: The sources of the project and workspace members (and editable path dependencies):
#: with none of them in the lock, uv re-resolves.
_ROOT_SOURCES = frozenset({"virtual", "editable"})
#: Top-level keys that describe one resolution: taken together, from one side.
_RESOLUTION_KEYS = ("requires-python", "resolution-markers", "supported-markers", "conflicts")
#: The package keys holding references to other entries, and where.
_REF_ARRAYS = ("dependencies",)
_REF_TABLES = ("optional-dependencies", "dev-dependencies")


@dataclass(frozen=True)
class UvLock:
    """One ``uv.lock`` as plain data.

    ``top`` holds every top-level key but ``version``, ``revision`` and ``package``
    (``requires-python``, ``resolution-markers``, ``supported-markers``, ``conflicts``,
    ``options``, ``manifest``, ...) in file order; ``packages`` the ``[[package]]``
    tables as read. ``revision`` is None where uv wrote none (uv 0.5.31 does not;
    0.13.8 writes 5).
    """

    version: int
    revision: int | None
    top: dict[str, Any]
    packages: tuple[dict[str, Any], ...]

    @property
    def requires_python(self) -> str | None:
        value = self.top.get("requires-python")
        return value if isinstance(value, str) else None

    @property
    def lock_version(self) -> str:
        """``"1"`` or ``"1.5"``: version and revision, what decides which uv reads it."""
        return str(self.version) if self.revision is None else f"{self.version}.{self.revision}"


# -- parsing --------------------------------------------------------------------------------


def _not_a_lock(where: str, detail: str) -> LockfixError:
    return LockfixError(f"{where}: not a uv lock file: {detail}")


def parse_lock(text: str, where: str = "uv.lock") -> UvLock:
    """Parse a ``uv.lock`` of any uv line into :class:`UvLock`.

    Conflict markers and invalid TOML (:class:`~lockfix.errors.MalformedToml`, with
    file:line) raise a :class:`~lockfix.errors.LockfixError` naming ``where``; so does
    valid TOML that cannot be a uv lock (no integer ``version``, a package without name).
    """
    hits = find_markers(text)
    if hits:
        first = hits[0]
        raise LockfixError(
            f"{where}:{first.line}: conflict marker {first.text[:7]!r}: uv cannot read a "
            "lock with merge conflicts in it",
            hint="lockfix run (or take one side's uv.lock and run `uv lock`)",
        )
    data = load_toml(text, where)
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _not_a_lock(where, f"top-level version must be an integer, not {version!r}")
    revision = data.get("revision")
    if revision is not None and (not isinstance(revision, int) or isinstance(revision, bool)):
        raise _not_a_lock(where, f"revision must be an integer, not {revision!r}")
    raw_packages = data.get("package", [])
    if not isinstance(raw_packages, list):
        raise _not_a_lock(where, "package is not an array of tables")
    packages: list[dict[str, Any]] = []
    for i, raw in enumerate(raw_packages, 1):
        if not isinstance(raw, dict):
            raise _not_a_lock(where, f"[[package]] #{i} is not a table")
        name, pkg_version = raw.get("name"), raw.get("version")
        if not isinstance(name, str) or not (pkg_version is None or isinstance(pkg_version, str)):
            raise _not_a_lock(where, f"[[package]] #{i} needs a string name (and version)")
        if "source" in raw and not isinstance(raw["source"], dict):
            raise _not_a_lock(where, f"[[package]] #{i} ({name}): source is not a table")
        packages.append(raw)
    top = {k: v for k, v in data.items() if k not in ("version", "revision", "package")}
    return UvLock(version=version, revision=revision, top=top, packages=tuple(packages))


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _source(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    source = entry.get("source")
    return source if isinstance(source, Mapping) else {}


def entry_id(entry: Mapping[str, Any]) -> tuple[str, str | None, str]:
    """What uv identifies a locked package by: (canonical name, version, source)."""
    version = entry.get("version")
    return (
        canonical_name(str(entry["name"])),
        version if isinstance(version, str) else None,
        _canonical_json(_source(entry)),
    )


def is_local(entry: Mapping[str, Any]) -> bool:
    """Whether uv builds ``entry`` from a directory (project, member, path dependency)."""
    return any(k in LOCAL_SOURCES for k in _source(entry))


# -- the merge ------------------------------------------------------------------------------

Group = Optional[list[dict[str, Any]]]


def _group_key(group: Group) -> tuple[str, ...] | None:
    """The group as an order-insensitive value (every key of every entry)."""
    return None if group is None else tuple(sorted(_canonical_json(e) for e in group))


def _identity(group: Group) -> tuple[str, ...] | None:
    """What was resolved: the set of (version, source). Wheels, dependencies and fork
    markers are properties of the release or recomputed by uv on every lock."""
    if group is None:
        return None
    return tuple(sorted(_canonical_json(entry_id(e)[1:]) for e in group))


def _version_key(version: str | None) -> tuple[int, Version | str]:
    if version is None:
        return (2, "")
    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)


def _versions(group: Group) -> tuple[str, ...]:
    if group is None:
        return ()
    found = {e.get("version") for e in group}
    return tuple(str(v) for v in sorted(found, key=_version_key) if isinstance(v, str))


def _highest(group: list[dict[str, Any]]) -> Version | None:
    try:
        return max(Version(str(e["version"])) for e in group)
    except (InvalidVersion, KeyError):
        return None


def _groups(lock: UvLock | None) -> dict[tuple[str, bool], list[dict[str, Any]]]:
    """Entries by (canonical name, local?): a name's registry, git or url entries are
    merged apart from a local build of the same name (a package moved into the
    workspace on one side is two groups, not a clash)."""
    groups: dict[tuple[str, bool], list[dict[str, Any]]] = {}
    if lock is not None:
        for entry in lock.packages:
            key = (canonical_name(str(entry["name"])), is_local(entry))
            groups.setdefault(key, []).append(entry)
    return groups


def _one_sided(base: Group, ours: Group, theirs: Group, two_way: bool) -> tuple[bool, Group]:
    """(True, the group) when the sides agree or only one changed, by ``key``."""
    if _group_key(ours) == _group_key(theirs):
        return True, ours
    if two_way:
        if ours is None:
            return True, theirs
        if theirs is None:
            return True, ours
        return False, None
    if _group_key(base) == _group_key(ours):
        return True, theirs
    if _group_key(base) == _group_key(theirs):
        return True, ours
    return False, None


def _settle(
    name: str, base: Group, ours: Group, theirs: Group, two_way: bool, policy: LockPolicy
) -> tuple[Group, LockClash | None]:
    """Three-way merge of one name's (non-local) entries: (what to keep, the clash)."""
    settled, group = _one_sided(base, ours, theirs, two_way)
    if settled:
        return group, None
    # Both sides changed the entries; only a change of what was resolved is a clash.
    id_ours, id_theirs = _identity(ours), _identity(theirs)
    if id_ours == id_theirs:
        return ours, None
    if not two_way:
        if _identity(base) == id_ours:
            return theirs, None
        if _identity(base) == id_theirs:
            return ours, None
    chosen: Group
    if policy == "drop":
        chosen, resolution = None, "dropped"
    elif policy == "ours":
        chosen, resolution = ours, "ours"
    elif policy == "theirs":
        chosen, resolution = theirs, "theirs"
    elif policy in ("higher", "higher-or-drop"):
        # A present group beats a removal: uv ignores entries it no longer needs. With
        # higher-or-drop, uv itself lets go of a kept version the merged constraints no
        # longer allow (it re-resolves that package, keeping the rest: checked on uv 0.5.31
        # and 0.13.8), so the higher side's entry is all the preferred lock needs.
        if ours is None or theirs is None:
            take_ours = theirs is None
        else:
            high_ours, high_theirs = _highest(ours), _highest(theirs)
            take_ours = high_ours is not None and high_theirs is not None and high_ours > high_theirs
        chosen, resolution = (ours, "ours") if take_ours else (theirs, "theirs")
    else:
        raise ValueError(f"unknown lock policy {policy!r}")
    clash = LockClash(
        name=name,
        base=_versions(base),
        ours=_versions(ours),
        theirs=_versions(theirs),
        resolution=resolution,
    )
    return chosen, clash


def _settle_local(base: Group, ours: Group, theirs: Group, two_way: bool) -> Group:
    """Entries uv rewrites from the manifests: a one-sided change wins, else ours'
    (theirs' when ours has none). Never a clash."""
    settled, group = _one_sided(base, ours, theirs, two_way)
    if settled:
        return group
    return ours if ours is not None else theirs


def _merge_top(
    base: Mapping[str, Any] | None, ours: Mapping[str, Any], theirs: Mapping[str, Any]
) -> dict[str, Any]:
    """Top-level keys three-way, ours' on a clash: uv recomputes them from the manifests.

    ``requires-python``, ``resolution-markers``, ``supported-markers`` and ``conflicts``
    describe one resolution and move as one: ours' Python range with theirs' forks makes
    uv 0.13.8 write a fork that matches no Python (``python_version < '0'``) and then
    call its own lock stale.
    """
    missing = object()

    def unit(table: Mapping[str, Any] | None) -> tuple[Any, ...]:
        return tuple(missing if table is None else table.get(k, missing) for k in _RESOLUTION_KEYS)

    take_theirs_unit = unit(base) == unit(ours) if base is not None else not any(
        v is not missing for v in unit(ours))
    out: dict[str, Any] = {}
    for key in [*ours, *(k for k in theirs if k not in ours)]:
        o, t = ours.get(key, missing), theirs.get(key, missing)
        b = missing if base is None else base.get(key, missing)
        if key in _RESOLUTION_KEYS:
            value = t if take_theirs_unit else o
        elif base is None:
            value = o if o is not missing else t
        elif b == o and b != t:
            value = t
        else:
            value = o
        if value is not missing:
            out[key] = value
    return out


def _sort_key(entry: Mapping[str, Any]) -> tuple[Any, ...]:
    """uv's order: name, version, source; the whole entry breaks a tie."""
    name, version, source = entry_id(entry)
    return (name, _version_key(version), source, _canonical_json(entry))


def _refs(entry: Mapping[str, Any]) -> Iterator[tuple[str, str | None, list[Any]]]:
    """Every array of references in ``entry``: (key, sub-key, the array)."""
    for key in _REF_ARRAYS:
        value = entry.get(key)
        if isinstance(value, list):
            yield key, None, value
    for key in _REF_TABLES:
        table = entry.get(key)
        if isinstance(table, Mapping):
            for sub, value in table.items():
                if isinstance(value, list):
                    yield key, sub, value


def _target(ref: Mapping[str, Any], by_name: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    """The entry a reference names, as uv reads it: omitted ``version``/``source`` are
    taken from the only entry of that name, and must then be unambiguous."""
    name = ref.get("name")
    if not isinstance(name, str):
        return None
    candidates = by_name.get(canonical_name(name), [])
    if "version" not in ref or "source" not in ref:
        if len(candidates) != 1:
            return None
        candidates = candidates[:1]
    for entry in candidates:
        if "version" in ref and ref["version"] != entry.get("version"):
            continue
        if "source" in ref and _canonical_json(ref["source"]) != _canonical_json(_source(entry)):
            continue
        return entry
    return None


def _repoint(ref: Mapping[str, Any], candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """A reference whose entry is gone, pointed at a surviving entry of its name: the
    only one, else the one of the same version, else the highest."""
    rest = {k: v for k, v in ref.items() if k not in ("name", "version", "source")}
    if len(candidates) == 1:
        return {"name": ref["name"], **rest}
    same = [c for c in candidates if c.get("version") == ref.get("version")]
    chosen = same[0] if same else max(candidates, key=lambda c: _version_key(c.get("version")))
    pinned: dict[str, Any] = {"name": ref["name"]}
    if isinstance(chosen.get("version"), str):
        pinned["version"] = chosen["version"]
    pinned["source"] = dict(_source(chosen))
    return {**pinned, **rest}


def _repair(packages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Make every reference name an entry that exists, so that uv can read the lock.

    A reference to a name left without entries is removed, one to a vanished entry of a
    name that still has some is pointed at a survivor (a duplicate that creates is
    removed). A repaired graph is only fit as preferences, never as a final lock.
    """
    by_name: dict[str, list[dict[str, Any]]] = {}
    for entry in packages:
        by_name.setdefault(canonical_name(str(entry["name"])), []).append(entry)
    out: list[dict[str, Any]] = []
    for entry in packages:
        fixed: dict[str, Any] | None = None
        for key, sub, refs in _refs(entry):
            new_refs: list[Any] = []
            seen: set[str] = set()
            dirty = False
            for ref in refs:
                if not isinstance(ref, Mapping) or _target(ref, by_name) is not None:
                    new_refs.append(ref)
                    continue
                dirty = True
                candidates = by_name.get(canonical_name(str(ref.get("name"))), [])
                if candidates:
                    new_refs.append(_repoint(ref, candidates))
            if not dirty:
                continue
            deduped = []
            for ref in new_refs:
                if isinstance(ref, Mapping):
                    target = _target(ref, by_name)
                    ident = _canonical_json(
                        [entry_id(target) if target else None, ref.get("extra")]
                    )
                    if ident in seen:
                        continue
                    seen.add(ident)
                deduped.append(ref)
            if fixed is None:
                fixed = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in entry.items()}
            if sub is None:
                fixed[key] = deduped
            else:
                fixed[key][sub] = deduped
        out.append(entry if fixed is None else fixed)
    return out


def _package_set(packages: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    return tuple(sorted(_canonical_json(p) for p in packages))


def merge_locks(
    base: str | None,
    ours: str,
    theirs: str,
    policy: LockPolicy = "drop",
    *,
    where: str = "uv.lock",
) -> LockMerge:
    """Merge three ``uv.lock`` texts package by package into a preferred lock.

    Per canonical name: a one-sided change wins (an entry added, removed or changed),
    identical changes agree, and both sides changing the set of (version, source)
    differently is a clash settled by ``policy`` (``drop`` leaves the name to uv).
    ``base=None`` (no common ancestor) is a two-way merge: what only one side has is
    kept, what both have differently clashes. Local entries (project, members, path
    dependencies) never clash: a one-sided change wins, else ours'.

    The header (``version``, ``revision``) is ours'; the other top-level keys merge
    three-way with ours' on a clash (the Python range and forks as one unit, see
    :func:`_merge_top`). When the entries kept are exactly one side's, that
    is the result (uv may accept it as is). Otherwise the references are repaired and
    the project and member entries left out, which makes uv re-resolve (keeping every
    version the lock still names) instead of accepting a graph that mixes two
    resolutions or lacks an edge.
    """
    lock_ours = parse_lock(ours, f"{where} (ours)")
    lock_theirs = parse_lock(theirs, f"{where} (theirs)")
    lock_base = None if base is None else parse_lock(base, f"{where} (base)")
    two_way = lock_base is None

    g_base, g_ours, g_theirs = _groups(lock_base), _groups(lock_ours), _groups(lock_theirs)
    kept: list[dict[str, Any]] = []
    clashes: list[LockClash] = []
    for key in sorted(set(g_base) | set(g_ours) | set(g_theirs)):
        name, local = key
        b, o, t = g_base.get(key), g_ours.get(key), g_theirs.get(key)
        if local:
            group = _settle_local(b, o, t, two_way)
        else:
            group, clash = _settle(name, b, o, t, two_way, policy)
            if clash is not None:
                clashes.append(clash)
        kept.extend(group or ())
    kept.sort(key=_sort_key)

    merged_set = _package_set(kept)
    if merged_set not in (_package_set(lock_ours.packages), _package_set(lock_theirs.packages)):
        kept = _repair([e for e in kept if not any(k in _ROOT_SOURCES for k in _source(e))])

    merged = UvLock(
        version=lock_ours.version,
        revision=lock_ours.revision,
        top=_merge_top(None if lock_base is None else lock_base.top, lock_ours.top, lock_theirs.top),
        packages=tuple(kept),
    )
    text = render_lock(merged)
    if ours.split("\n", 1)[0].endswith("\r"):
        text = text.replace("\n", "\r\n")  # keep ours' line endings
    return LockMerge(text=text, clashes=tuple(clashes), lock_version=merged.lock_version)


# -- rendering ------------------------------------------------------------------------------

#: Arrays uv writes one element a line even when they hold one element.
_ALWAYS_MULTILINE = frozenset({"dependencies", "wheels", "resolution-markers", "supported-markers"})
_MULTILINE_TABLES = frozenset({"package.optional-dependencies", "package.dev-dependencies"})
_PACKAGE_FIRST = ("name", "version", "source")
_TOP_FIRST = ("requires-python", "resolution-markers", "supported-markers")


def _value(value: Any) -> str:
    """One inline TOML value in uv's spacing (``{ a = 1 }``)."""
    if isinstance(value, str):
        return _string(value)
    scalar = number_or_bool(value)
    if scalar is not None:
        return scalar
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to a uv lock")


def _assignment(key: str, value: Any, multiline: bool) -> str:
    if isinstance(value, (list, tuple)) and value and (multiline or len(value) > 1):
        return f"{_key(key)} = [\n" + "".join(f"    {_value(v)},\n" for v in value) + "]"
    return f"{_key(key)} = {_value(value)}"


def _is_sub_table(value: Any, inline_flat: bool) -> bool:
    """Whether a dict value gets its own ``[header]``: always at the top level, and in a
    package unless it only holds scalars (``source``, ``sdist`` stay inline)."""
    if not isinstance(value, Mapping):
        return False
    if not inline_flat:
        return True
    return any(isinstance(v, (Mapping, list, tuple)) for v in value.values())


def _ordered(table: Mapping[str, Any], first: Sequence[str]) -> list[str]:
    return [k for k in first if k in table] + [k for k in table if k not in first]


def _table(
    header: str | None, path: str, table: Mapping[str, Any], first: Sequence[str], inline_flat: bool
) -> list[str]:
    """``[header]`` (or ``[[header]]``) with its values, then its sub-tables, each block
    followed by a blank line."""
    keys = _ordered(table, first)
    lines = [] if header is None else [header]
    subs = []
    for key in keys:
        value = table[key]
        if _is_sub_table(value, inline_flat):
            subs.append(key)
        else:
            multiline = key in _ALWAYS_MULTILINE or path in _MULTILINE_TABLES
            lines.append(_assignment(key, value, multiline))
    out = ["\n".join(lines) + "\n"] if lines else []
    for key in subs:
        sub_path = f"{path}.{_key(key)}" if path else _key(key)
        out.extend(_table(f"[{sub_path}]", sub_path, table[key], (), inline_flat))
    return out


def render_lock(lock: UvLock) -> str:
    """A ``uv.lock`` text for ``lock`` in uv's layout: ``version``, ``revision`` (when the
    lock has one), the other top-level keys and tables, then the packages in the order
    given. Deterministic; uv 0.5.31 and 0.13.8 both read it.
    """
    head: dict[str, Any] = {"version": lock.version}
    if lock.revision is not None:
        head["revision"] = lock.revision
    head.update(lock.top)
    blocks = _table(None, "", head, ("version", "revision", *_TOP_FIRST), inline_flat=False)
    for entry in lock.packages:
        blocks.extend(_table("[[package]]", "package", entry, _PACKAGE_FIRST, inline_flat=True))
    return "\n".join(blocks)
