"""A thin, typed wrapper over the ``git`` executable.

Plain subprocess calls rather than a library: every operation lockfix needs is one
plumbing command, git itself is the source of truth for repository state, and the
merge driver must stay read-only (shared/README.md section 1).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lockfix.errors import LockfixError


class GitError(LockfixError):
    """A git command failed where lockfix needed it to succeed."""


@dataclass(frozen=True)
class Operation:
    """The merge-like operation a repository is stopped in, and the commit it brings in."""

    kind: str  # "merge" | "rebase" | "cherry-pick" | "revert"
    theirs: str  # the incoming commit (MERGE_HEAD, REBASE_HEAD, CHERRY_PICK_HEAD, ...)


class Git:
    """Git commands run in one repository."""

    def __init__(self, cwd: Path | str) -> None:
        self.cwd = Path(cwd)

    def run_bytes(
        self, args: Sequence[str], *, check: bool = True, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            ["git", *args],
            cwd=self.cwd,
            input=input,
            capture_output=True,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
        if check and proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            raise GitError(f"git {' '.join(args)} failed: {err}")
        return proc

    def run(self, *args: str, check: bool = True) -> str:
        """Run git and return its stdout as text (trailing newline kept)."""
        return self.run_bytes(args, check=check).stdout.decode("utf-8", errors="surrogateescape")

    # -- repository ------------------------------------------------------------------
    def toplevel(self) -> Path:
        proc = self.run_bytes(["rev-parse", "--show-toplevel"], check=False)
        if proc.returncode != 0:
            raise GitError(
                f"{self.cwd} is not inside a git repository",
                hint="run lockfix from within the repository",
            )
        return Path(proc.stdout.decode().strip())

    def git_dir(self) -> Path:
        path = Path(self.run("rev-parse", "--git-dir").strip())
        return path if path.is_absolute() else self.cwd / path

    def rev_parse(self, rev: str) -> str | None:
        proc = self.run_bytes(["rev-parse", "--verify", "--quiet", rev + "^{commit}"], check=False)
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    def merge_base(self, a: str, b: str) -> str | None:
        proc = self.run_bytes(["merge-base", a, b], check=False)
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    # -- content -----------------------------------------------------------------------
    def ls_files(self, paths: Iterable[str] = ()) -> list[str]:
        """Tracked paths (unmerged ones once), relative to the repository root."""
        out = self.run_bytes(["ls-files", "-z", "--", *paths]).stdout
        seen: dict[str, None] = {}
        for raw in out.split(b"\0"):
            if raw:
                seen.setdefault(raw.decode("utf-8", errors="surrogateescape"), None)
        return list(seen)

    def unmerged(self) -> dict[str, dict[int, str]]:
        """Conflicted paths -> {stage: blob sha}; stage 1 base, 2 ours, 3 theirs."""
        out = self.run_bytes(["ls-files", "-u", "-z"]).stdout
        result: dict[str, dict[int, str]] = {}
        for entry in out.split(b"\0"):
            if not entry:
                continue
            meta, _, path = entry.decode("utf-8", errors="surrogateescape").partition("\t")
            _mode, sha, stage = meta.split()
            result.setdefault(path, {})[int(stage)] = sha
        return result

    def blob(self, sha: str) -> bytes:
        return self.run_bytes(["cat-file", "blob", sha]).stdout

    def show_file(self, rev: str, path: str) -> bytes | None:
        """The content of ``path`` at ``rev``, or None if it does not exist there."""
        proc = self.run_bytes(["cat-file", "blob", f"{rev}:{path}"], check=False)
        return proc.stdout if proc.returncode == 0 else None

    def add(self, paths: Sequence[str]) -> None:
        if paths:
            self.run_bytes(["add", "--", *paths])

    # -- state ---------------------------------------------------------------------------
    def operation(self) -> Operation | None:
        """The merge, rebase, cherry-pick or revert this repository is stopped in, if any."""
        for kind, ref in (
            ("merge", "MERGE_HEAD"),
            ("rebase", "REBASE_HEAD"),
            ("cherry-pick", "CHERRY_PICK_HEAD"),
            ("revert", "REVERT_HEAD"),
        ):
            sha = self.rev_parse(ref)
            if sha:
                return Operation(kind, sha)
        return None

    def operation_sides(self, op: Operation) -> tuple[str | None, str, str]:
        """(base, ours, theirs) commits of a stopped operation, as git merged them.

        A merge's base is the merge base; a rebase or cherry-pick replays ``theirs`` onto
        HEAD, so its base is the replayed commit's parent; a revert applies the reverse.
        """
        head = self.rev_parse("HEAD")
        if head is None:
            raise GitError("HEAD does not name a commit")
        if op.kind == "merge":
            return self.merge_base(head, op.theirs), head, op.theirs
        parent = self.rev_parse(op.theirs + "^")
        if op.kind == "revert":
            if parent is None:
                raise GitError("cannot revert a root commit's changes here")
            return op.theirs, head, parent
        return parent, head, op.theirs

    # -- merge-driver context (read-only: git holds index.lock while a driver runs) -------
    def hash_blob(self, data: bytes, like: str | None = None) -> str:
        """The blob id git would give ``data``, computed here (git's object header plus
        SHA-1, or SHA-256 when ``like`` is a 64-digit id of this repository)."""
        algo = hashlib.sha256 if like is not None and len(like) == 64 else hashlib.sha1
        return algo(b"blob %d\0" % len(data) + data).hexdigest()

    def _candidate_commits(self, env: dict[str, str]) -> Iterator[tuple[str, str]]:
        """(commit, how it was found) for the commit being merged in, most specific first.

        git 2.39 does not tell a driver which commits it merges (shared/README.md §1), so
        each operation's own traces are read: GITHEAD_* for merge and pull, the rebase
        todo lists, the cherry-pick sequencer, then any ref tip, stash or recent HEAD
        position — verified by the caller against the blobs git handed over. Lazily: the
        usual case is settled by the first trace, without listing refs.
        """
        for key in sorted(env):
            if key.startswith("GITHEAD_"):
                yield key[len("GITHEAD_") :], "merge"
        gd = self.git_dir()
        done = gd / "rebase-merge" / "done"
        if done.is_file():
            lines = [ln.split() for ln in done.read_text().splitlines() if ln.strip()]
            lines = [ln for ln in lines if not ln[0].startswith("#") and len(ln) > 1]
            if lines:
                yield lines[-1][1], "rebase"
        original = gd / "rebase-apply" / "original-commit"
        if original.is_file():
            yield original.read_text().strip(), "rebase --apply"
        todo = gd / "sequencer" / "todo"
        if todo.is_file():
            for ln in todo.read_text().splitlines():
                parts = ln.split()
                if len(parts) > 1 and not parts[0].startswith("#"):
                    yield parts[1], "cherry-pick" if parts[0] in ("pick", "p") else parts[0]
                    break
        for sha in self.run("for-each-ref", "--format=%(objectname)", check=False).split():
            yield sha, "ref"
        for sha in self.run("log", "-g", "--format=%H", "-n", "20", "refs/stash", check=False).split():
            yield sha, "stash"
        for sha in self.run("log", "-g", "--format=%H", "-n", "50", "HEAD", check=False).split():
            yield sha, "reflog"

    def object_ids(self, specs: Sequence[str]) -> list[str | None]:
        """Object ids of many ``rev``/``rev:path`` specs in one git call (None: missing).

        The merge driver runs once per file while the user waits, so plumbing round trips
        are batched."""
        if not specs:
            return []
        out = self.run_bytes(
            ["cat-file", "--batch-check=%(objectname)"], input="".join(f"{x}\n" for x in specs).encode()
        ).stdout.decode()
        return [None if line.endswith(" missing") or " " in line else line for line in out.splitlines()]

    def read_blobs(self, specs: Sequence[str]) -> list[bytes | None]:
        """Contents of many ``rev:path`` blobs in one git call (None: missing)."""
        if not specs:
            return []
        data = self.run_bytes(
            ["cat-file", "--batch"], input="".join(f"{x}\n" for x in specs).encode()
        ).stdout
        result: list[bytes | None] = []
        pos = 0
        for _ in specs:
            end = data.index(b"\n", pos)
            header = data[pos:end].decode()
            pos = end + 1
            if header.endswith(" missing") or header.endswith(" ambiguous"):
                result.append(None)
                continue
            size = int(header.split()[2])
            result.append(data[pos : pos + size] if header.split()[1] == "blob" else None)
            pos += size + 1
        return result

    def merging_commits(
        self, env: dict[str, str], path: str, base_blob: str | None, ours_blob: str, theirs_blob: str
    ) -> tuple[str | None, str, str, str] | None:
        """(base, ours, theirs, how) commits of the merge a driver runs in, or None.

        A candidate is accepted only if its blob at ``path`` is the one git passed as
        theirs, HEAD's is ours, and the derived base holds the base blob: a wrong guess
        would regenerate the lock against the wrong pyproject.toml.
        """
        head, head_blob = self.object_ids(["HEAD^{commit}", f"HEAD:{path}"])
        if head is None or head_blob != ours_blob:
            return None
        seen: set[str] = set()
        for rev, how in self._candidate_commits(env):
            sha, blob, parent, parent_blob = self.object_ids(
                [f"{rev}^{{commit}}", f"{rev}:{path}", f"{rev}^1", f"{rev}^1:{path}"]
            )
            if sha is None or sha in seen or sha == head:
                continue
            seen.add(sha)
            if blob != theirs_blob:
                continue
            # a replayed (picked, stashed) commit's base is its parent; a merge's is the
            # merge base: the blob check decides between them for the other traces
            if how != "merge" and parent is not None and parent_blob == base_blob:
                return parent, head, sha, how
            bases = self.run("merge-base", "--all", head, sha, check=False).split()
            for base, blob_at_base in zip(bases, self.object_ids([f"{b}:{path}" for b in bases])):
                if blob_at_base == base_blob:
                    return base, head, sha, how
            if parent is not None and parent_blob == base_blob:
                return parent, head, sha, how
            if base_blob is None and parent is None and not bases:
                return None, head, sha, how
        return None
