"""Shared fixtures. The end-to-end fixtures live in tests/support/ and are wired here."""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lockfix.localindex import DEFAULT_UNIVERSE, PackageIndex
from tests.support.poetry import PoetryExe, discover_poetries, isolated_env, version_of
from tests.support.repos import GitRepo, RepoCache, monorepo, single_project
from tests.support.uv import UvExe, discover_uvs, uv_env, uv_version_of

_POETRIES = discover_poetries()
_UVS = discover_uvs()

#: A test that uses one of these (directly or through another fixture) runs a real Poetry
#: or uv: it is end-to-end whether or not it says so (``./dev test`` runs ``-m "not e2e"``
#: on the other supported Pythons, where no Poetry or uv is installed for them).
_E2E_FIXTURES = frozenset({"poetry", "uv"})


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _E2E_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(params=_POETRIES, ids=lambda p: "poetry" + ".".join(map(str, version_of(p))))
def poetry(request: pytest.FixtureRequest, tmp_path: Path) -> PoetryExe:
    """Each end-to-end test runs once per installed Poetry line, fully isolated."""
    path: Path = request.param
    home = tmp_path / "home"
    home.mkdir()
    return PoetryExe(path=path, version=version_of(path), env=isolated_env(home))


@pytest.fixture(params=_UVS, ids=lambda p: "uv" + ".".join(map(str, uv_version_of(p))))
def uv(request: pytest.FixtureRequest, tmp_path: Path, index: PackageIndex) -> UvExe:
    """Each uv end-to-end test runs once per installed uv line, isolated, with the test
    index as uv's default index (``UV_DEFAULT_INDEX``) and a private ``UV_CACHE_DIR``."""
    path: Path = request.param
    home = tmp_path / "uv-home"
    home.mkdir()
    return UvExe(path=path, version=uv_version_of(path), env=uv_env(home, index.url))


@pytest.fixture(scope="session")
def index_port() -> int:
    """One port for every test's index, so that the same project gets the same lock in
    every test (what makes ``repo_cache`` possible). Busy later? The index takes another."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def index(index_port: int) -> Iterator[PackageIndex]:
    """A private PEP 503 index on 127.0.0.1 holding ``DEFAULT_UNIVERSE``; ``index.add(...)``
    publishes more at any point of the test. Started and stopped around each test."""
    idx = PackageIndex(port=index_port)
    idx.add_many(DEFAULT_UNIVERSE)
    yield idx
    idx.stop()


@pytest.fixture(scope="session")
def repo_cache(tmp_path_factory: pytest.TempPathFactory) -> RepoCache | None:
    """Templates of factory-made repositories (``LOCKFIX_TESTBED_NO_CACHE=1`` disables)."""
    if os.environ.get("LOCKFIX_TESTBED_NO_CACHE"):
        return None
    return RepoCache(tmp_path_factory.mktemp("repo-cache"))


@pytest.fixture
def make_single_project(
    tmp_path: Path, poetry: PoetryExe, index: PackageIndex, repo_cache: RepoCache | None
) -> Callable[..., GitRepo]:
    """``make_single_project(deps={"requests": "^2.30"}, *, name="app", dev_deps=None,
    python=">=3.9", style="poetry")``: a one-project repository, locked by real Poetry and
    committed on main (see ``tests.support.repos.single_project``)."""
    return functools.partial(single_project, tmp_path, poetry, index, cache=repo_cache)


@pytest.fixture
def make_monorepo(
    tmp_path: Path, poetry: PoetryExe, index: PackageIndex, repo_cache: RepoCache | None
) -> Callable[..., GitRepo]:
    """``make_monorepo(*, style="poetry", python=">=3.9")``: packages/core,
    packages/api-gateway and packages/background-worker, locked in dependency order by real
    Poetry and committed on main (see ``tests.support.repos.monorepo``)."""
    return functools.partial(monorepo, tmp_path, poetry, index, cache=repo_cache)
