"""The conflict-marker grammar: the one place that knows what git's markers look like.

git writes, for each conflicted region (marker size 7 unless ``conflict-marker-size``
or the merge driver's ``%L`` says otherwise)::

    <<<<<<< ours-label
    ...ours...
    ||||||| base-label        (only with merge.conflictStyle = diff3 / zdiff3)
    ...base...
    =======
    ...theirs...
    >>>>>>> theirs-label

Used to split a conflict-marked file back into its sides (when no index stages exist)
and by ``lockfix check`` to find markers left in committed files.

diff3 and zdiff3 write the same grammar, but only diff3's rebuilt base is a base: zdiff3
also moves the lines that open or close both the ours and the theirs section out of the
region (git's ``xdl_refine_zdiff3_conflicts``), while the base section keeps the whole
base hunk. Joined with the lines outside the regions, such a base holds lines the base
never had, and nothing in the text tells the two styles apart. Ours and theirs are exact
either way; :mod:`lockfix.sides` decides whether the rebuilt base can be used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

DEFAULT_SIZE = 7


class Marker(Enum):
    OURS = "<"
    BASE = "|"
    SEP = "="
    THEIRS = ">"


def marker_regex(size: int = DEFAULT_SIZE) -> re.Pattern[str]:
    """A line that is a conflict marker of exactly ``size`` characters.

    The opening, base and closing markers are followed by a space and a label or by the
    end of the line; the separator stands alone. ``re.MULTILINE`` so that it can scan a
    whole file at once.
    """
    return re.compile(
        rf"^(?:(?P<open><{{{size}}})|(?P<base>\|{{{size}}})|(?P<close>>{{{size}}}))(?:[ \t].*)?\r?$"
        rf"|^(?P<sep>={{{size}}})\r?$",
        re.MULTILINE,
    )


_DEFAULT_RE = marker_regex()


def git_grep_pattern(size: int = DEFAULT_SIZE) -> str:
    """:func:`marker_regex` as a POSIX ERE for ``git grep -E``, so that a repository-wide
    scan runs at git's speed while meaning exactly the same lines.

    ERE has no ``\\t``/``\\r`` escapes, so the tab and carriage return are literal
    characters; ``[|]`` avoids ERE's alternation bar.
    """
    n = f"{{{size}}}"
    return f"^(<{n}|[|]{n}|>{n})([ \t].*)?\r?$|^={n}\r?$"


def classify(line: str, pattern: re.Pattern[str] = _DEFAULT_RE) -> Marker | None:
    """Which marker ``line`` (without its newline) is, if any."""
    m = pattern.match(line)
    if m is None:
        return None
    if m.group("open"):
        return Marker.OURS
    if m.group("base"):
        return Marker.BASE
    if m.group("close"):
        return Marker.THEIRS
    return Marker.SEP


@dataclass(frozen=True)
class MarkerHit:
    line: int  # 1-based
    marker: Marker
    text: str


def find_markers(text: str, size: int = DEFAULT_SIZE) -> list[MarkerHit]:
    """Every marker line in ``text``, 1-based line numbers."""
    pattern = _DEFAULT_RE if size == DEFAULT_SIZE else marker_regex(size)
    hits = []
    for m in pattern.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        hit_text = m.group(0).rstrip("\r")
        kind = classify(hit_text, pattern)
        assert kind is not None
        hits.append(MarkerHit(line, kind, hit_text))
    return hits


def has_conflicts(text: str, size: int = DEFAULT_SIZE) -> bool:
    """True when ``text`` holds at least one complete conflict region."""
    return split_conflicts(text, size) is not None


@dataclass(frozen=True)
class SplitSides:
    """The two (or three) files a conflict-marked file was made from."""

    ours: str
    theirs: str
    base: str | None  # None unless every region carried a base section (diff3, zdiff3)
    regions: int


def split_conflicts(text: str, size: int = DEFAULT_SIZE) -> SplitSides | None:
    """Split a conflict-marked file into its sides; None if it has no well-formed region.

    Lines outside conflict regions belong to every side. A malformed region (an opening
    marker never closed, a separator outside a region) makes the whole file unsplittable:
    guessing would risk silently losing lines.
    """
    pattern = _DEFAULT_RE if size == DEFAULT_SIZE else marker_regex(size)
    ours: list[str] = []
    theirs: list[str] = []
    base: list[str] = []
    every_region_has_base = True
    regions = 0
    state: Marker | None = None  # None = outside; else the section we are in
    region_has_base = False
    for line in text.splitlines(keepends=True):
        kind = classify(line.rstrip("\n"), pattern)
        if state is None:
            if kind is Marker.OURS:
                state, region_has_base = Marker.OURS, False
            elif kind is None:
                ours.append(line)
                theirs.append(line)
                base.append(line)
            else:
                return None
        elif state is Marker.OURS:
            if kind is Marker.BASE:
                state, region_has_base = Marker.BASE, True
            elif kind is Marker.SEP:
                state = Marker.SEP
            elif kind is None:
                ours.append(line)
            else:
                return None
        elif state is Marker.BASE:
            if kind is Marker.SEP:
                state = Marker.SEP
            elif kind is None:
                base.append(line)
            else:
                return None
        else:  # in theirs
            if kind is Marker.THEIRS:
                state = None
                regions += 1
                every_region_has_base &= region_has_base
            elif kind is None:
                theirs.append(line)
            else:
                return None
    if state is not None or regions == 0:
        return None
    return SplitSides(
        ours="".join(ours),
        theirs="".join(theirs),
        base="".join(base) if every_region_has_base else None,
        regions=regions,
    )
