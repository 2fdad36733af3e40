"""A thin, typed wrapper over the ``git`` executable.

Plain subprocess calls rather than a library: every operation lockfix needs is one
plumbing command, git itself is the source of truth for repository state, and the
merge driver must stay read-only (shared/README.md section 1).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lockfix.errors import LockfixError


class GitError(LockfixError):
    """A git command failed where lockfix needed it to succeed."""


@dataclass(frozen=True)
class Operation:
    """The merge-like operation a repository is stopped in, and the commit it brings in."""

    kind: str  # "merge" | "rebase" | "cherry-pick" | "revert" | "am"
    theirs: str  # the incoming commit (MERGE_HEAD, REBASE_HEAD, ...); for am, the patch file


@dataclass(frozen=True)
class Change:
    """One path that differs between two trees (``git diff-tree -r``)."""

    status: str  # "A" added, "M" modified, "D" deleted, "T" type changed
    mode: str  # the mode after (before, for a deletion)
    old: str | None  # blob id before (None: added)
    new: str | None  # blob id after (None: deleted)


class Git:
    """Git commands run in one repository."""

    def __init__(self, cwd: Path | str) -> None:
        self.cwd = Path(cwd)
        self._git_dir: Path | None = None

    def run_bytes(
        self,
        args: Sequence[str],
        *,
        check: bool = True,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            ["git", *args],
            cwd=self.cwd,
            input=input,
            capture_output=True,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})},
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
        if self._git_dir is None:  # asked several times per driver call, never changes
            path = Path(self.run("rev-parse", "--git-dir").strip())
            self._git_dir = path if path.is_absolute() else self.cwd / path
        return self._git_dir

    def git_path(self, name: str) -> Path:
        """Where git itself reads ``$GIT_DIR/<name>``: ``info/attributes`` of a linked
        worktree is the common dir's, ``rebase-apply`` its own (``git rev-parse --git-path``)."""
        path = Path(self.run("rev-parse", "--git-path", name).strip())
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
        patch = self.git_dir() / "rebase-apply" / "patch"
        if (patch.parent / "applying").is_file() and patch.is_file():  # git am, not rebase
            return Operation("am", str(patch))
        return None

    def operation_sides(self, op: Operation) -> tuple[str | None, str, str]:
        """(base, ours, theirs) commits of a stopped operation, as git merged them.

        A merge's base is the merge base; a rebase or cherry-pick replays ``theirs`` onto
        HEAD, so its base is the replayed commit's parent; a revert applies the reverse;
        ``git am`` merges trees rebuilt from the patch (tree ids, which read like commits
        in ``rev:path``).
        """
        head = self.rev_parse("HEAD")
        if head is None:
            raise GitError("HEAD does not name a commit")
        if op.kind == "am":
            trees = self.am_trees(head)
            if trees is None:
                raise GitError("cannot rebuild the sides of the patch `git am` is applying")
            return trees[0], head, trees[1]
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
        from lockfix.batch import blob_id

        return blob_id(data, "sha256" if like is not None and len(like) == 64 else "sha1")

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

    def changes(self, a: str, b: str, paths: Sequence[str] = ()) -> dict[str, Change]:
        """Every path (under ``paths``, if any) whose blob differs between trees ``a`` and
        ``b``, renames not followed; empty when either is unknown."""
        out = self.run_bytes(["diff-tree", "-r", "-z", "--no-renames", a, b,
                              *(["--", *paths] if paths else [])], check=False).stdout
        fields = out.split(b"\0")
        found: dict[str, Change] = {}
        for header, raw in zip(fields[0::2], fields[1::2]):
            old_mode, new_mode, old, new, status = header.decode().lstrip(":").split()
            found[raw.decode("utf-8", "surrogateescape")] = Change(
                status, old_mode if status == "D" else new_mode,
                None if status == "A" else old, None if status == "D" else new)
        return found

    def merge_attributes(self, paths: Sequence[str], *, cached: bool = False,
                         env: Mapping[str, str] | None = None) -> dict[str, str]:
        """Path -> its ``merge`` attribute as git reports it (a driver name, or
        ``unspecified``/``unset``/``set``); ``cached``: from the index's .gitattributes."""
        if not paths:
            return {}
        out = self.run_bytes(["check-attr", "-z", *(["--cached"] if cached else []), "merge",
                              "--", *paths], check=False, env=env).stdout.split(b"\0")
        return {out[i].decode("utf-8", "surrogateescape"): out[i + 2].decode("utf-8", "replace")
                for i in range(0, len(out) - 2, 3)}

    def incoming_commit(self, env: dict[str, str]) -> str | None:
        """The commit being merged in, when the running operation's own trace names it
        (a merge's single ``GITHEAD_*``, the rebase step, the cherry-pick sequence), read
        without running git; None otherwise (then see :meth:`merging_commits`)."""
        heads = [k for k in env if k.startswith("GITHEAD_")]
        if len(heads) > 1:
            return None
        for rev, how in self._candidate_commits(env):
            return None if how in ("ref", "stash", "reflog") else rev
        return None

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
        """(base, ours, theirs, how) of the merge a driver runs in, or None.

        Each is a commit, except for ``git am``, whose base and theirs are trees rebuilt
        from the patch (both read the same way: ``rev:path``, ``git archive rev``).
        A candidate is accepted only if its blob at ``path`` is the one git passed as
        theirs, HEAD's is ours, and the derived base holds the base blob: a wrong guess
        would regenerate the lock against the wrong pyproject.toml.
        """
        head, head_blob = self.object_ids(["HEAD^{commit}", f"HEAD:{path}"])
        if head is None or head_blob != ours_blob:
            return None
        if (self.git_dir() / "rebase-apply" / "applying").is_file():
            # git am: exactly the trees git merges, rebuilt from the patch (no commit
            # holds them); checked against the blobs like any guess
            trees = self.am_trees(head)
            if trees is not None and self.object_ids(
                [f"{trees[0]}:{path}", f"{trees[1]}:{path}"]
            ) == [base_blob, theirs_blob]:
                return trees[0], head, trees[1], "am"
        seen: set[str] = set()
        revert_guess: tuple[str, str, str, str] | None = None
        for rev, how in self._candidate_commits(env):
            sha, blob, parent, parent_blob = self.object_ids(
                [f"{rev}^{{commit}}", f"{rev}:{path}", f"{rev}^1", f"{rev}^1:{path}"]
            )
            if sha is None or sha in seen or sha == head:
                continue
            seen.add(sha)
            if blob != theirs_blob:
                # a revert merges the reverted commit's parent, with that commit as base:
                # taken at once from the sequencer's own trace, else only when HEAD's
                # history holds no better match (see below)
                if base_blob is not None and blob == base_blob and parent is not None \
                        and parent_blob == theirs_blob:
                    if how == "revert":
                        return sha, head, parent, how
                    revert_guess = revert_guess or (sha, head, parent, "revert")
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
        reverted = self._reverted_commit(head, path, base_blob, theirs_blob)
        parent = self.rev_parse(reverted + "^1") if reverted else None
        if reverted is not None and parent is not None:
            return reverted, head, parent, "revert"
        return revert_guess  # a ref tip or recent HEAD: a commit reverted from elsewhere

    def _reverted_commit(
        self, head: str, path: str, base_blob: str | None, theirs_blob: str, depth: int = 500
    ) -> str | None:
        """The commit a running ``git revert`` undoes, searched in HEAD's history of ``path``.

        git leaves no trace of a single revert until it stops, and the reverted commit
        is rarely a ref tip or in the reflog of a fresh clone; but it is almost always an
        ancestor of HEAD that changed ``path`` from the theirs blob to the base blob (a
        merge reverted with ``-m 1``: compared with its first parent). One ``rev-list``
        and one batched blob lookup, however deep."""
        if base_blob is None:
            return None
        # --full-history: a merge that took the file from its second parent is listed too,
        # so `git revert -m 1 <merge>` finds the merge itself rather than the side commit
        commits = self.run("rev-list", "--full-history", f"--max-count={depth}", head, "--", path,
                           check=False).split()
        ids = self.object_ids([spec for c in commits for spec in (f"{c}:{path}", f"{c}^1:{path}")])
        for i, commit in enumerate(commits):
            if ids[2 * i] == base_blob and ids[2 * i + 1] == theirs_blob:
                return commit
        return None

    def am_trees(self, head: str | None) -> tuple[str, str] | None:
        """(base tree, theirs tree) of the patch ``git am -3`` is applying, or None.

        No commit holds a mailed patch's blobs, but git's three-way fallback merges trees
        it builds from the patch: the blobs named by its ``index`` lines (the base), and
        those with the patch applied (theirs). Rebuilt here the same way, with git's own
        ``apply`` on private index files (the repository's index stays untouched; git
        holds its lock while a driver runs), each laid over HEAD's tree so that files the
        patch does not touch read the same on every side.
        """
        apply_dir = self.git_dir() / "rebase-apply"
        patch = apply_dir / "patch"
        if not (apply_dir / "applying").is_file() or not patch.is_file():
            return None
        opt_file = apply_dir / "apply-opt"  # `git am -p2`, `--directory=...`: as am applied
        opts = shlex.split(opt_file.read_text()) if opt_file.is_file() else []
        with tempfile.TemporaryDirectory(prefix="lockfix-am-") as tmp:
            base_index, theirs_index = Path(tmp) / "base", Path(tmp) / "theirs"
            if self.run_bytes(["apply", *opts, f"--build-fake-ancestor={base_index}", str(patch)],
                              check=False).returncode != 0:
                return None  # the preimage blobs are not in this repository
            shutil.copyfile(base_index, theirs_index)
            if self.run_bytes(["apply", *opts, "--cached", str(patch)], check=False,
                              env={"GIT_INDEX_FILE": str(theirs_index)}).returncode != 0:
                return None
            base, theirs = self._index_entries(base_index), self._index_entries(theirs_index)
            touched = sorted(base.keys() | theirs.keys())
            return (self._tree_over(head, base, touched, Path(tmp) / "base-tree"),
                    self._tree_over(head, theirs, touched, Path(tmp) / "theirs-tree"))

    def _index_entries(self, index: Path) -> dict[str, str]:
        """path -> "mode sha" of the stage-0 entries in a private index file."""
        out = self.run_bytes(["ls-files", "-s", "-z"], env={"GIT_INDEX_FILE": str(index)}).stdout
        entries = {}
        for raw in out.split(b"\0"):
            if raw:
                meta, _, name = raw.decode("utf-8", errors="surrogateescape").partition("\t")
                mode, sha, _stage = meta.split()
                entries[name] = f"{mode} {sha}"
        return entries

    def _tree_over(self, head: str | None, entries: Mapping[str, str], touched: Sequence[str],
                   index: Path) -> str:
        """The tree of ``head`` with each touched path set to ``entries`` (absent: removed)."""
        env = {"GIT_INDEX_FILE": str(index)}
        self.run_bytes(["read-tree", head] if head else ["read-tree", "--empty"], env=env)
        zero = "0" * len(head or "0" * 40)
        info = "".join(f"{entries.get(p, '0 ' + zero)}\t{p}\0" for p in touched)
        self.run_bytes(["update-index", "-z", "--index-info"], input=info.encode("utf-8", "surrogateescape"),
                       env=env)
        return self.run_bytes(["write-tree"], env=env).stdout.decode().strip()
