"""Where the three versions of a conflicted file come from.

In order of trust: git's index stages (exact, written by git when it stopped), the
commits of a stopped operation (exact, for files git merged "cleanly" into invalid TOML),
then the conflict markers in the file itself (the only source left when a file was
committed with markers; without a diff3 ``|||||||`` section the base is unknown, and a
zdiff3 one may rebuild a base that never existed: see :func:`from_markers`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lockfix import markers
from lockfix.errors import LockfixError
from lockfix.git import Git
from lockfix.toml import load_toml


@dataclass(frozen=True)
class Sides:
    base: str | None
    ours: str
    theirs: str
    origin: str  # where they came from, for messages: "index", "commits", "markers"


def _text(data: bytes) -> str:
    return data.decode("utf-8")


def from_index(git: Git, path: str, stages: dict[int, str]) -> Sides:
    """The sides git recorded for an unmerged path."""
    if 2 not in stages or 3 not in stages:
        gone = "ours" if 2 not in stages else "theirs"
        raise LockfixError(
            f"{path}: deleted on {gone} side and changed on the other",
            hint=f"decide by hand: `git rm {path}` or `git add {path}`",
        )
    base = _text(git.blob(stages[1])) if 1 in stages else None
    return Sides(base, _text(git.blob(stages[2])), _text(git.blob(stages[3])), "index")


def from_operation(git: Git, path: str) -> Sides | None:
    """The sides of ``path`` in the merge/rebase/cherry-pick the repository is stopped in."""
    op = git.operation()
    if op is None:
        return None
    base_rev, ours_rev, theirs_rev = git.operation_sides(op)
    ours = git.show_file(ours_rev, path)
    theirs = git.show_file(theirs_rev, path)
    if ours is None or theirs is None:
        return None
    base = git.show_file(base_rev, path) if base_rev else None
    return Sides(None if base is None else _text(base), _text(ours), _text(theirs), "commits")


#: origin of sides whose rebuilt base was dropped (see :func:`from_markers`)
TWO_WAY = "markers, merged two-way: no usable base (zdiff3?)"


def from_markers(text: str, check_base: Callable[[str], object] | None = None) -> Sides | None:
    """Split a conflict-marked file; None when it holds no well-formed conflict.

    The base rebuilt from base sections is used only if it parses (every file lockfix
    merges is TOML) and ``check_base`` (a backend's reader, raising
    :class:`~lockfix.errors.LockfixError`) accepts it. zdiff3 markers can rebuild a
    "base" that is neither: a ``[[package]]`` header both sides wrote, moved out of its
    region, then heads the base hunk of another package. There the sides are merged
    two-way, base unknown, as for markers without base sections, rather than not at all.
    A base that passes is a line-level base of the two rebuilt sides even from zdiff3:
    each line it has that the true base lacked is in ours and theirs alike.
    """
    split = markers.split_conflicts(text)
    if split is None:
        return None
    if split.base is not None:
        try:
            load_toml(split.base, "base")
            if check_base is not None:
                check_base(split.base)
        except LockfixError:  # MalformedToml included
            return Sides(None, split.ours, split.theirs, TWO_WAY)
    return Sides(split.base, split.ours, split.theirs, "markers")
