"""Which of two dependency constraints is newer (lockfix.constraints), for
``manifest-policy = "newer"``: examples per grammar, then properties checked against the
versions each constraint actually admits (poetry-core's and packaging's own ``allows``)."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from poetry.core.constraints.version import Version as PoetryVersion
from poetry.core.constraints.version import parse_constraint

from lockfix.constraints import Spec, Verdict, newer, pep508_spec, poetry_spec


def poetry(ours: Any, theirs: Any) -> Verdict:
    return newer(poetry_spec(ours), poetry_spec(theirs))


def pep508(ours: str, theirs: str) -> Verdict:
    return newer(pep508_spec(ours), pep508_spec(theirs))


# ------------------------------------------------------------------- Poetry grammar


@pytest.mark.parametrize(("ours", "theirs", "winner"), [
    ("^0.11.4", "^0.11.5", "theirs"),        # caret, patch
    ("^0.12", "^0.11.1", "ours"),             # caret, minor beats patch
    ("^1.2", "^2.0", "theirs"),
    ("~1.2", "~1.3", "theirs"),               # tilde
    ("~1.2.3", "~1.2", "ours"),
    ("1.2.*", "1.3.*", "theirs"),             # wildcards
    ("1.*", "2.*", "theirs"),
    (">=1.4", ">=1.3,<2", "ours"),            # ranges
    (">=1,<2", ">=1.5", "theirs"),
    (">1.0", ">=1.0", "ours"),                # exclusive starts above inclusive
    (">=1.2,<1.9,!=1.5", ">=1.3,<1.9", "theirs"),  # several constraints
    ("^1 || ^2", "^2", "theirs"),             # a union starts at its lowest part
    ("^2 || ^3", "^1.5", "ours"),
    ("*", "^1", "theirs"),                    # no lower bound is the lowest
    (">0", ">=0", "ours"),
    ("<2", ">=1,<2", "theirs"),
    ("1.2.3", "1.2.4", "theirs"),             # two exact pins
    ("==2.0.0", "1.9.9", "ours"),
    ("^1.0.0a1", "^1.0.0", "theirs"),         # pre-releases sort first
])
def test_poetry_constraints(ours: str, theirs: str, winner: str) -> None:
    verdict = poetry(ours, theirs)
    assert verdict.winner == winner, verdict
    new, old = (ours, theirs) if winner == "ours" else (theirs, ours)
    assert verdict.why == f"newer: {new} > {old}"
    assert poetry(theirs, ours).winner == ("ours" if winner == "theirs" else "theirs")


@pytest.mark.parametrize(("ours", "theirs", "why"), [
    ("^1.2", "~1.2", "same lower bound"),     # same start, different end: not "newer"
    ("^1.2", ">=1.2", "same lower bound"),
    ("<2", "!=1.5", "same lower bound"),
    (">=0", "*", "same lower bound"),         # >=0 admits every version: no bound
    (">=0.0", "!=0", "same lower bound"),
    ("1.2.3", "^1.2", "exact pin against a range"),
    ("^1.3", "1.2.3", "exact pin against a range"),
    ("not a constraint", "^1", "ours: invalid constraint"),
    ("^1", ">=2,<1", "theirs: empty constraint"),
    ("", "*", "ours: invalid constraint"),
])
def test_poetry_undecided(ours: str, theirs: str, why: str) -> None:
    assert poetry(ours, theirs) == Verdict(None, why)


def test_poetry_table_form_compares_when_all_but_the_version_is_equal() -> None:
    a = {"version": "^1.2", "extras": ["socks", "http2"]}
    b = {"extras": ["http2", "socks"], "version": "^1.3"}  # extras order does not matter
    assert poetry(a, b) == Verdict("theirs", "newer: ^1.3 > ^1.2")
    assert poetry("^1.3", {"version": "^1.2"}) == Verdict("ours", "newer: ^1.3 > ^1.2")
    assert poetry({**a, "python": ">=3.9"}, b) == Verdict(None, "different python")
    assert poetry(a, "^1.3") == Verdict(None, "different extras")
    assert poetry({"version": "^1.2", "source": "a"}, {"version": "^1.3", "source": "b"}) == \
        Verdict(None, "different source")
    assert poetry({"version": "^1", "markers": "sys_platform == 'linux'"}, "^2").why == \
        "different markers"


def test_poetry_values_without_a_version_are_undecided() -> None:
    assert poetry({"path": "../core"}, "^1").why == "ours: no version constraint"
    assert poetry("^1", {"git": "https://x/y.git", "rev": "abc"}).why == \
        "theirs: no version constraint"
    multiple = [{"version": "<2", "python": "<3.8"}, {"version": ">=2", "python": ">=3.8"}]
    assert poetry(multiple, "^3").why == "ours: multiple constraints"
    assert poetry(1.5, "^3").why == "ours: no version constraint"


# --------------------------------------------------------------------- PEP 508


@pytest.mark.parametrize(("ours", "theirs", "winner"), [
    ("ruff>=0.11.4", "ruff>=0.11.5", "theirs"),
    ("ruff>=0.12,<0.13", "ruff>=0.11.1,<0.12", "ours"),
    ("ruff~=0.11.5", "ruff~=0.11.4", "ours"),
    ("ruff==0.11.*", "ruff==0.12.*", "theirs"),
    ("ruff", "ruff>=0.1", "theirs"),
    ("ruff<1", "ruff>0.5", "theirs"),
    ("ruff>=0.5,!=0.6", "ruff>=0.4", "ours"),
    ("ruff==0.11.4", "ruff==0.11.5", "theirs"),
    ("Ruff[x]>=2; python_version >= '3.9'", "ruff[x]>=1; python_version >= '3.9'", "ours"),
])
def test_pep508_requirements(ours: str, theirs: str, winner: str) -> None:
    verdict = pep508(ours, theirs)
    assert verdict.winner == winner, verdict
    assert verdict.why.startswith("newer: ")


@pytest.mark.parametrize(("ours", "theirs", "why"), [
    ("ruff[a]>=2", "ruff>=1", "different extras"),
    ("ruff>=2; python_version < '3.10'", "ruff>=1", "different markers"),
    ("ruff @ https://example.com/ruff-1.0.tar.gz", "ruff>=0.5", "different url"),
    ("ruff==1.0", "ruff>=0.5", "exact pin against a range"),
    ("ruff===1.0", "ruff>=0.5", "ours: arbitrary equality (===)"),
    ("ruff==1.0,==2.0", "ruff>=0.5", "ours: empty constraint"),
    ("ruff >= not-a-version!!", "ruff>=0.5", "ours: invalid requirement"),
    ("ruff>=1", "ruff>=1.0", "same lower bound"),
])
def test_pep508_undecided(ours: str, theirs: str, why: str) -> None:
    assert pep508(ours, theirs) == Verdict(None, why)


def test_non_strings_are_undecided_not_a_crash() -> None:
    assert pep508_spec({"include-group": "lint"}) == "not a requirement string"
    assert newer("removed it", pep508_spec("a>=1")) == Verdict(None, "ours: removed it")


# ------------------------------------------------------------------- properties


def _settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * float(os.environ.get("LOCKFIX_PROPERTY_SCALE", "1")))),
        deadline=None,
        derandomize=not os.environ.get("LOCKFIX_PROPERTY_RANDOM"),
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


releases = st.lists(st.integers(0, 12), min_size=1, max_size=3).map(
    lambda parts: ".".join(map(str, parts)))
poetry_constraints = st.one_of(
    st.builds(lambda op, v: f"{op}{v}", st.sampled_from(["^", "~", ">=", ">", "==", ""]),
              releases),
    st.builds(lambda v: f"{v}.*", releases),
    st.builds(lambda a, b: f">={a},<{b}", releases, releases),
    st.builds(lambda a, b: f"^{a} || ^{b}", releases, releases),
    st.builds(lambda a, b: f">={a},!={b}", releases, releases),
    st.sampled_from(["*", "<2", "!=1.5", "", "garbage", ">=", "^1 ||", "1.2.3.4.5.6"]),
)
pep440_specifiers = st.one_of(
    st.builds(lambda op, v: f"{op}{v}", st.sampled_from([">=", ">", "==", "~=", "<", "!="]),
              releases),
    st.builds(lambda v: f"=={v}.*", releases),
    st.builds(lambda a, b: f">={a},<{b}", releases, releases),
    st.sampled_from(["", "===1.0", ">=1,>=2", "==1,==2"]),
)
def _candidates(*texts: str) -> list[Version]:
    """Every version where one of ``texts`` can start admitting: each version written in
    them and one just above it (for ``>``), and the lowest of all."""
    found = {Version("0")}
    for text in texts:
        for number in re.findall(r"\d+(?:\.\d+)*", text):
            found |= {Version(number), Version(number + ".0.0.1")}
    return sorted(found)


def _poetry_admits(text: str, universe: list[Version]) -> list[Version]:
    constraint = parse_constraint(text)
    return [v for v in universe if constraint.allows(PoetryVersion.parse(str(v)))]


@_settings(300)
@given(poetry_constraints, poetry_constraints)
def test_poetry_verdict_is_antisymmetric_and_never_crashes(a: str, b: str) -> None:
    forward, backward = poetry(a, b), poetry(b, a)
    flipped = {"ours": "theirs", "theirs": "ours", None: None}
    assert backward.winner == flipped[forward.winner]
    assert (forward.winner is None) == (backward.winner is None)


@_settings(300)
@given(poetry_constraints, poetry_constraints)
def test_poetry_winner_admits_nothing_older_than_the_loser_starts(a: str, b: str) -> None:
    """The meaning of "newer": the oldest version the winner admits is at least the
    oldest the loser admits (checked on real versions with poetry-core's allows)."""
    verdict = poetry(a, b)
    if verdict.winner is None:
        return
    win, lose = (a, b) if verdict.winner == "ours" else (b, a)
    universe = _candidates(a, b)
    won, lost = _poetry_admits(win, universe), _poetry_admits(lose, universe)
    if won and lost:
        assert min(won) >= min(lost), (win, lose)


@_settings(300)
@given(pep440_specifiers, pep440_specifiers)
def test_pep508_verdict_agrees_with_packaging(a: str, b: str) -> None:
    verdict = pep508(f"pkg{a}", f"pkg{b}")
    assert pep508(f"pkg{b}", f"pkg{a}").winner == {"ours": "theirs", "theirs": "ours",
                                                   None: None}[verdict.winner]
    if verdict.winner is None:
        return
    win, lose = (a, b) if verdict.winner == "ours" else (b, a)
    universe = _candidates(a, b)
    won = [v for v in universe if v in SpecifierSet(win)]
    lost = [v for v in universe if v in SpecifierSet(lose)]
    if won and lost:
        assert min(won) >= min(lost), (win, lose)


@_settings(200)
@given(st.text(max_size=20), st.one_of(st.text(max_size=20), st.none(), st.integers(),
                                       st.dictionaries(st.sampled_from(["version", "extras"]),
                                                       st.text(max_size=5))))
def test_arbitrary_input_never_crashes(a: str, b: Any) -> None:
    for parse in (poetry_spec, pep508_spec):
        for value in (a, b):
            assert isinstance(parse(value), (Spec, str))
        assert isinstance(newer(parse(a), parse(b)), Verdict)


@_settings(200)
@given(st.sampled_from(["", "[socks]", "[http2,socks]"]), st.sampled_from(["", "[socks]"]),
       st.sampled_from(["", "; python_version < '3.11'", "; sys_platform == 'win32'"]),
       st.sampled_from(["", "; python_version < '3.11'"]), pep440_specifiers,
       pep440_specifiers)
def test_pep508_other_extras_or_markers_never_decide(
        extras_a: str, extras_b: str, marker_a: str, marker_b: str, a: str, b: str) -> None:
    verdict = pep508(f"pkg{extras_a}{a}{marker_a}", f"pkg{extras_b}{b}{marker_b}")
    if (extras_a, marker_a) != (extras_b, marker_b):
        assert verdict.winner is None
    else:
        assert verdict.winner == pep508(f"pkg{a}", f"pkg{b}").winner


@_settings(100)
@given(st.sampled_from([None, ["socks"], ["http2", "socks"]]),
       st.sampled_from([None, ">=3.9"]), st.sampled_from([None, "internal"]),
       poetry_constraints, poetry_constraints)
def test_poetry_table_form_decides_only_on_equal_rest(
        extras: list[str] | None, python: str | None, source: str | None, a: str, b: str) -> None:
    rest = {k: v for k, v in (("extras", extras), ("python", python), ("source", source))
            if v is not None}
    assert poetry({"version": a, **rest}, {"version": b, **rest}) == poetry(a, b)
    assert poetry({"version": a}, b) == poetry(a, b)
    if rest:
        assert poetry({"version": a, **rest}, b).winner is None
