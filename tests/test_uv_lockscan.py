"""The fast TOML validity check for uv.lock (``backends/uv/lockscan.py``) is sound: it
never calls valid what tomllib rejects, on real uv locks of both lines mutated at random,
and it recognises the real locks themselves (else it would be no faster)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockfix.backends.uv.lockscan import head_version, valid_fast
from lockfix.errors import MalformedToml
from lockfix.toml import load_toml
from tests.support.mutate import mutate

LOCKS = sorted((Path(__file__).parent / "data" / "uv").glob("*.lock"))


def _tomllib_accepts(text: str) -> bool:
    try:
        load_toml(text, "uv.lock")
    except MalformedToml:
        return False
    return True


@pytest.mark.parametrize("path", LOCKS, ids=lambda p: p.name)
def test_real_locks_take_the_fast_path(path: Path) -> None:
    text = path.read_text()
    assert valid_fast(text)
    assert head_version(text) == load_toml(text, path.name)["version"]


@pytest.mark.parametrize("text", [
    'a = 1\na = 2\n',                                                # a key twice
    'a = { b = 1, b = 2 }\n',                                        # twice inline
    '[[package]]\nname = "a"\n\n[package.metadata]\n\n[package.metadata]\n',  # a table twice
    '[[package]]\nmetadata = { a = 1 }\n\n[package.metadata]\n',     # a key, then its table
    '[package]\nname = "a"\n\n[[package]]\nname = "b"\n',            # table, then array
    'x = [\n    1,\n',                                               # array never closed
    'name = "a\x01"\n',                                              # control character
    'name = "a\\q"\n',                                               # unknown escape
    '<<<<<<< HEAD\nversion = 1\n=======\nversion = 2\n>>>>>>> x\n',  # conflict markers
])
def test_invalid_toml_is_never_called_valid(text: str) -> None:
    assert not _tomllib_accepts(text)
    assert not valid_fast(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_check_never_accepts_what_tomllib_rejects(data: st.DataObject) -> None:
    text = mutate(data.draw(st.sampled_from([p.read_text() for p in LOCKS])), data)
    if valid_fast(text):
        assert _tomllib_accepts(text), text
