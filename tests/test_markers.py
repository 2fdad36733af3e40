from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lockfix.markers import Marker, find_markers, has_conflicts, split_conflicts

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
