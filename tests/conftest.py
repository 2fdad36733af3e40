"""Shared fixtures. The end-to-end fixtures live in tests/support/ and are wired here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.poetry import PoetryExe, discover_poetries, isolated_env, version_of

_POETRIES = discover_poetries()


@pytest.fixture(params=_POETRIES, ids=lambda p: "poetry" + ".".join(map(str, version_of(p))))
def poetry(request: pytest.FixtureRequest, tmp_path: Path) -> PoetryExe:
    """Each end-to-end test runs once per installed Poetry line, fully isolated."""
    path: Path = request.param
    home = tmp_path / "home"
    home.mkdir()
    return PoetryExe(path=path, version=version_of(path), env=isolated_env(home))
