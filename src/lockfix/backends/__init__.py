"""One interface, one package per package manager.

Everything that depends on which tool owns a lock sits behind :class:`Backend`: the lock's
file name, how three locks merge into a preferred lock, how freshness is judged without
the tool, how packages link to each other, and how the tool is found and run. The
commands (``run``, ``merge-driver``, ``install``, ``check``, ``demo``) only ever talk to
this interface, the way pre-commit's ``languages/`` sit behind one set of functions.

Each backend is a package of the same shape (``backends/poetry/``, ``backends/uv/``):
``lock.py`` (model and three-way package merge), ``freshness.py`` (native freshness),
``links.py`` (path and workspace dependencies), ``tool.py`` (find and run the tool), and an
``__init__.py`` that binds them into one :class:`Backend`. A third package manager (pdm)
is one more such package and one more line in :data:`BACKENDS`.

Backend modules import their heavy parts lazily: the merge driver loads this module on
git's critical path.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from lockfix.backends.base import LockMerge
    from lockfix.findings import Finding
    from lockfix.policies import LockPolicy
    from lockfix.workspace import Package

DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True)
class Freshness:
    """Whether a lock still matches the manifests it was made from, and if not, why."""

    fresh: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class LockRun:
    seconds: float
    output: str


class Relocker(Protocol):
    """Whatever can relock a project directory, keeping every locked version it can."""

    def relock(self, project_dir: Path, *, timeout: float = DEFAULT_TIMEOUT) -> LockRun: ...


class Session(Relocker, AbstractContextManager["Session"], Protocol):
    """Relocks for one command; ``preloaded`` says whether the tool was started ahead."""

    @property
    def preloaded(self) -> bool: ...

    #: whether the tool can be told not to build named packages (uv's
    #: ``--no-build-package``); where it cannot (Poetry), lockfix's prediction is the gate
    can_forbid_builds: bool

    def forbid_builds(self, names: Sequence[str]) -> None:
        """From now on, refuse to build these packages (only if ``can_forbid_builds``)."""


class Tool(Protocol):
    """One installed package manager (its executable and version)."""

    @property
    def executable(self) -> Path: ...

    def argv(self) -> list[str]:
        """The relock command line (the single source of the flag choice)."""

    @property
    def relocks_per_core(self) -> int:
        """How many relocks of this tool a core runs well at once (``lockfix run --jobs``)."""

    @property
    def version(self) -> tuple[int, ...]: ...

    @property
    def label(self) -> str:
        """``Poetry 2.5.1`` / ``uv 0.13.8``: for messages."""

    def session(self, env: Mapping[str, str] | None = None) -> Session: ...

    def reads(self, lock_version: str | None) -> bool:
        """Whether this tool version can use a lock of ``lock_version`` as its starting
        point (otherwise it must resolve from scratch)."""


class Checks(Protocol):
    """``lockfix check``'s questions, answered by a backend's ``check.py`` module."""

    def needs_lock(self, data: Mapping[str, Any]) -> bool:
        """Whether a project without a lock should have one (a missing-lock warning)."""

    def lock_command(self, label: str) -> str:
        """The tool's own command that creates the lock of the package at ``label``."""

    def read(self, pkg: Package, text: str, data: Mapping[str, Any] | None, restore: str
             ) -> tuple[Any, list[Finding]]:
        """Parse one lock (MalformedToml escapes for bad TOML): what to judge later, and the
        findings that need only this package."""

    def link_findings(self, manifests: Mapping[str, Mapping[str, Any]],
                      locks: Mapping[str, Any], packages: Mapping[str, Package], root: Path,
                      selected: set[str]) -> list[Finding]:
        """Findings that need every manifest: staleness through linked packages."""


class DemoKit(Protocol):
    """A backend's layout for ``lockfix demo`` (``backends/*/demo.py``)."""

    layout: str  # how the demo's three packages are laid out and locked, one line
    ours: list[tuple[str, str, str]]  # (package dir, dependency, constraint) main adds
    theirs: list[tuple[str, str, str]]  # what branch feature adds

    def env(self, home: Path, executable: Path) -> dict[str, str]:
        """The demo's sandbox: the tool's and git's state under ``home``."""

    def write_base(self, repo: Path, index_url: str) -> None: ...

    def add(self, repo: Path, pkg: str, dep: str, constraint: str) -> None: ...

    def lock_dirs(self, touched: set[str] | None) -> list[str]:
        """Directories to relock, in order, after ``touched`` manifests changed (None: all)."""

    def report_dirs(self) -> list[str]:
        """Directories whose locks the demo compares before and after."""


class Backend(Protocol):
    name: str  # "poetry" | "uv": config, JSON output
    label: str  # "Poetry" | "uv": messages
    lockfile: str  # the lock's file name in a project directory
    tool_variable: str  # environment variable naming the executable

    def owns(self, manifest: Mapping[str, Any]) -> bool:
        """Whether a project with no lock of either kind is this tool's project."""

    def links(self, manifest: Mapping[str, Any], package_dir: str,
              known: Collection[str]) -> list[str]:
        """Package directories (repository-relative) whose manifests this package's lock
        records: path dependencies and, for a workspace root, its members. ``known`` is
        every package directory of the repository (for workspace member globs)."""

    def members(self, manifest: Mapping[str, Any], package_dir: str,
                known: Collection[str]) -> list[str]:
        """Projects whose lock is this package's (a workspace's members): they need none."""

    def checks(self) -> Checks:
        """What ``lockfix check`` asks of this backend's packages."""

    def locked_versions(self, lock_text: str) -> dict[str, str]:
        """Canonical package name -> locked version (the first, for forked names)."""

    def demo(self) -> DemoKit: ...

    def merge_locks(self, base: str | None, ours: str, theirs: str, policy: LockPolicy, *,
                    where: str, manifest: Mapping[str, Any] | None = None) -> LockMerge:
        """Three locks into one preferred lock (``manifest``: the merged pyproject)."""

    def lock_version(self, lock_text: str, where: str) -> str | None:
        """The lock's format version (Poetry's ``lock-version``, uv's ``version.revision``)."""

    def starting_lock(self, lock_text: str, where: str) -> tuple[str, str | None]:
        """A lock on disk as the tool's starting point for a relock (relabelled where the
        tool needs it to keep its versions), and its format version."""

    def freshness(self, lock_text: str, lock_dir: str,
                  manifests: Mapping[str, Mapping[str, Any]], *, root: Path) -> Freshness:
        """Judge a lock against the current manifests, natively (no tool, no network)."""

    def find_tool(self, explicit: str | None = None, env: Mapping[str, str] | None = None,
                  *, cache_dir: Path | None = None) -> Tool: ...

    def private_env(self, env: Mapping[str, str], work: Path) -> dict[str, str]:
        """The environment for relocking in a private tree under ``work`` (the driver)."""


def _load() -> tuple[Backend, ...]:
    from lockfix.backends.poetry import BACKEND as POETRY
    from lockfix.backends.uv import BACKEND as UV

    return (POETRY, UV)


#: every backend, in the order a directory holding several locks is claimed
BACKENDS: tuple[Backend, ...] = _load()
BY_LOCKFILE: dict[str, Backend] = {b.lockfile: b for b in BACKENDS}
BY_NAME: dict[str, Backend] = {b.name: b for b in BACKENDS}
LOCKFILES: tuple[str, ...] = tuple(BY_LOCKFILE)
