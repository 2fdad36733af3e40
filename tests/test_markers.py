from __future__ import annotations

import subprocess
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from lockfix.errors import LockfixError
from lockfix.markers import Marker, find_markers, has_conflicts, split_conflicts
from lockfix.sides import TWO_WAY, from_markers
from lockfix.toml import load_toml

MERGE = """\
[tool.poetry.dependencies]
python = "^3.9"
<<<<<<< HEAD
httpx = "^0.25"
=======
rich = "^13"
>>>>>>> feature
"""

DIFF3 = """\
a
<<<<<<< ours
b
||||||| base
c
=======
d
>>>>>>> theirs
e
<<<<<<< ours
f
||||||| base
=======
>>>>>>> theirs
"""


def test_split_two_way_has_no_base() -> None:
    split = split_conflicts(MERGE)
    assert split is not None
    assert split.base is None
    assert split.regions == 1
    assert split.ours.endswith('python = "^3.9"\nhttpx = "^0.25"\n')
    assert split.theirs.endswith('python = "^3.9"\nrich = "^13"\n')


def test_split_diff3_recovers_base_including_empty_sections() -> None:
    split = split_conflicts(DIFF3)
    assert split is not None
    assert (split.ours, split.base, split.theirs) == ("a\nb\ne\nf\n", "a\nc\ne\n", "a\nd\ne\n")
    assert split.regions == 2


def test_labels_crlf_and_marker_size() -> None:
    text = "x\r\n<<<<<<<<<< HEAD\r\n1\r\n==========\r\n2\r\n>>>>>>>>>> b\r\n"
    assert split_conflicts(text) is None  # size 7 does not match 10-character markers
    split = split_conflicts(text, size=10)
    assert split is not None
    assert split.ours == "x\r\n1\r\n" and split.theirs == "x\r\n2\r\n"


def test_malformed_regions_are_not_split() -> None:
    assert split_conflicts("<<<<<<< a\nx\n") is None  # never closed
    assert split_conflicts("=======\n") is None  # separator outside a region
    assert split_conflicts("<<<<<<< a\n=======\n<<<<<<< b\n>>>>>>> c\n") is None
    assert not has_conflicts("no markers here\n")
    assert has_conflicts(MERGE)


def test_find_markers_reports_lines_and_kinds() -> None:
    hits = find_markers(DIFF3)
    assert [(h.line, h.marker) for h in hits[:4]] == [
        (2, Marker.OURS), (4, Marker.BASE), (6, Marker.SEP), (8, Marker.THEIRS)
    ]
    # look-alikes are not markers: longer runs, text after the separator, no space
    assert find_markers("========\n======= x\n<<<<<<<x\n<<<<<<<< y\n") == []


lines = st.lists(st.sampled_from(["a\n", "b\n", "key = 1\n", "\n", "[t]\n"]), max_size=5)


@given(st.lists(st.tuples(lines, lines, lines, lines), min_size=1, max_size=4), lines)
def test_split_inverts_git_diff3_rendering(regions, tail) -> None:
    common_all, ours_all, base_all, theirs_all = [], [], [], []
    text = []
    for common, ours, base, theirs in regions:
        text += [*common, "<<<<<<< ours\n", *ours, "||||||| base\n", *base, "=======\n",
                 *theirs, ">>>>>>> theirs\n"]
        common_all.append("".join(common))
        ours_all += [*common, *ours]
        base_all += [*common, *base]
        theirs_all += [*common, *theirs]
    text += tail
    split = split_conflicts("".join(text))
    assert split is not None
    assert split.ours == "".join(ours_all + tail)
    assert split.base == "".join(base_all + tail)
    assert split.theirs == "".join(theirs_all + tail)


# -- zdiff3: same grammar, but the rebuilt base may be a file that never existed ----------

BASE = 'a = 1\n\n[tool]\nz = 0\n'


def _package(name: str, tail: str) -> str:
    return f'a = 1\n\n[[package]]\nname = "{name}"\n{tail}\n[tool]\nz = 0\n'


def _merge_file(tmp_path: Path, style: str, ours: str, theirs: str) -> str:
    """git's own rendering of a conflict between ``ours`` and ``theirs`` over BASE."""
    for name, text in (("o", ours), ("b", BASE), ("t", theirs)):
        (tmp_path / name).write_text(text)
    proc = subprocess.run(
        ["git", "merge-file", "-p", f"--{style}", "o", "b", "t"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert proc.returncode == 1, proc.stderr  # one conflict
    return proc.stdout


def test_zdiff3_sides_are_exact_but_its_base_is_not_toml(tmp_path: Path) -> None:
    ours, theirs = _package("attrs", 'files = [\n  "x",\n]\n'), _package("anyio", 'files = [\n  "y",\n]\n')
    text = _merge_file(tmp_path, "zdiff3", ours, theirs)
    assert text.index("[[package]]") < text.index("<<<<<<<")  # moved out of the region
    split = split_conflicts(text)
    assert split is not None
    assert (split.ours, split.theirs) == (ours, theirs)
    assert split.base is not None and split.base != BASE
    sides = from_markers(text)
    assert sides is not None
    assert (sides.base, sides.ours, sides.theirs, sides.origin) == (None, ours, theirs, TWO_WAY)


def _named_packages(text: str) -> None:
    if any("name" not in p for p in load_toml(text, "base").get("package", [])):
        raise LockfixError("a [[package]] without a name")


def test_zdiff3_base_that_parses_but_a_backend_rejects(tmp_path: Path) -> None:
    ours, theirs = _package("attrs", "opt = false\n"), _package("anyio", "opt = false\n")
    text = _merge_file(tmp_path, "zdiff3", ours, theirs)
    plain = from_markers(text)  # valid TOML: a line-level base, kept without a reader
    assert plain is not None and plain.base is not None and plain.origin == "markers"
    sides = from_markers(text, check_base=_named_packages)
    assert sides is not None
    assert (sides.base, sides.ours, sides.theirs, sides.origin) == (None, ours, theirs, TWO_WAY)


def test_diff3_base_is_exact_and_kept(tmp_path: Path) -> None:
    ours, theirs = _package("attrs", "opt = false\n"), _package("anyio", "opt = false\n")
    sides = from_markers(_merge_file(tmp_path, "diff3", ours, theirs), check_base=_named_packages)
    assert sides is not None
    assert (sides.base, sides.ours, sides.theirs, sides.origin) == (BASE, ours, theirs, "markers")
