"""Relocking away from the working tree: a private copy under the git dir, then atomic
replaces.

A relock interrupted in place (SIGKILL, power loss, a closed terminal) leaves a merged
manifest beside a half-made lock that nothing warns about. So a package is relocked in
a private copy of the repository's layout under ``.git/lockfix/run/`` (the package and
every package it reaches by path, at the same relative places, so ``path = "../core"``
resolves and is recorded exactly as in place), and only finished, verified files are
moved into the working tree with ``os.replace``: at every instant each working-tree file
is either what git left or the finished result.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import posixpath
import shutil
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from lockfix import GIT_WORK_DIR
from lockfix.errors import LockfixError

RUN_DIR = "run"
#: suffix of the temporary file placed beside a destination when the git dir is on
#: another file system (``os.replace`` cannot cross it); the next run removes leftovers
TMP_SUFFIX = ".lockfix-tmp"


@contextlib.contextmanager
def run_area(git_dir: Path) -> Iterator[Path]:
    """The private directory of one ``lockfix run``: exclusive (a second concurrent run
    in this repository is refused), emptied on entry (what a killed run left) and removed
    on exit, whatever happens."""
    work = git_dir / GIT_WORK_DIR
    work.mkdir(parents=True, exist_ok=True)
    fd = os.open(work, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockfixError(
                "another lockfix run is working in this repository",
                hint="wait for it to finish, then run lockfix run again",
            ) from None
        area = work / RUN_DIR
        shutil.rmtree(area, ignore_errors=True)
        area.mkdir(exist_ok=True)
        try:
            yield area
        finally:
            shutil.rmtree(area, ignore_errors=True)
    finally:
        os.close(fd)  # releases the lock; the kernel does it too if we are killed


def tree_for(area: Path, package_dir: str) -> Path:
    """A package's private tree: the same path in every run, so that Poetry's venv for it
    (named after the project path) is reused."""
    name = posixpath.basename(package_dir) or "root"
    digest = hashlib.sha256(package_dir.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return area / f"{name}-{digest}"


def owned_files(listed: Iterable[str], package_dir: str, package_dirs: Iterable[str]) -> list[str]:
    """The paths of ``listed`` that belong to ``package_dir``: under it, and not under a
    nested package (that one is copied when it is needed, not otherwise)."""
    prefix = package_dir + "/" if package_dir else ""
    nested = [d + "/" for d in package_dirs if d != package_dir and d.startswith(prefix) and d]
    return [
        f for f in listed if f.startswith(prefix) and not any(f.startswith(n) for n in nested)
    ]


def materialize(
    repo_root: Path, tree: Path, files: Iterable[str], overrides: Mapping[str, str | None]
) -> None:
    """Copy ``files`` (repository-relative) from the working tree into ``tree``, then write
    ``overrides`` (text, or None: absent). Symlinks stay symlinks; vanished files are
    skipped. Copies, never hard links: a tool writing a file in place must not reach the
    user's file."""
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    wanted = [rel for rel in files if rel not in overrides]
    for parent in sorted({posixpath.dirname(rel) for rel in wanted} - {""}):
        (tree / parent).mkdir(parents=True, exist_ok=True)
    for rel in wanted:
        src = repo_root / rel
        try:
            mode = os.lstat(src).st_mode
            if stat.S_ISLNK(mode):
                os.symlink(os.readlink(src), tree / rel)
            elif stat.S_ISREG(mode):
                shutil.copyfile(src, tree / rel)
        except FileNotFoundError:
            continue
    for rel, text in overrides.items():
        dst = tree / rel
        if text is None:
            dst.unlink(missing_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(text, encoding="utf-8")


def _fsync(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def install(tree: Path, repo_root: Path, rels: Sequence[str]) -> None:
    """Move finished files from ``tree`` into the working tree, one atomic replace each,
    in the order given (a package's lock before its manifest: the manifest is replaced
    last, so a package whose manifest is final is finished). A file is flushed to disk
    before it is renamed, so power loss cannot leave it empty."""
    for rel in rels:
        src = tree / rel
        dst = repo_root / rel
        with contextlib.suppress(FileNotFoundError):
            shutil.copymode(dst, src)
        _fsync(src)
        try:
            os.replace(src, dst)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # the git dir is on another file system: stage beside the destination
            tmp = dst.with_name(dst.name + TMP_SUFFIX)
            shutil.copy2(src, tmp)
            _fsync(tmp)
            os.replace(tmp, dst)
        _fsync(dst.parent, directory=True)


def remove_leftovers(repo_root: Path, rels: Iterable[str]) -> None:
    """Remove temporaries an interrupted :func:`install` may have left beside ``rels``."""
    for rel in rels:
        (repo_root / (rel + TMP_SUFFIX)).unlink(missing_ok=True)
