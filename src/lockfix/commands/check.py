"""``lockfix check``: the CI and pre-commit gate for lock state (Poetry and uv).

Server-side merges never run merge drivers and people resolve conflicts by hand, so
this reads the checkout (working tree of tracked files) and reports, without Poetry or
uv, without network and without lockfix's driver installed. What is judged per package
manager comes from its backend (``backends/*/check.py``):

``conflict-marker``
    a conflict-marker line (:mod:`lockfix.markers` grammar) in a tracked text file; the
    scan is ``git grep -I`` (binary files as git decides are skipped). A lone
    ``=======`` is reported only in a file that also has ``<<<<<<<``, ``|||||||`` or
    ``>>>>>>>`` markers: on its own it is an RST/Markdown heading underline far more
    often than a forgotten separator, and a gate that flags every heading gets disabled.
``invalid-toml``
    a ``pyproject.toml``, ``poetry.lock`` or ``uv.lock`` that does not parse (line and
    column from the parser), or is not UTF-8.
``invalid-lock``
    valid TOML that is not a lock of its kind (a ``[[package]]`` without a name...).
``unsupported-lock-version``
    a lock format lockfix does not know (Poetry lock-version 3.0 and later, uv.lock
    ``version`` 2 and later): reported, never guessed at.
``stale-lock``
    Poetry: ``content-hash`` does not match ``pyproject.toml`` under the rules of the
    Poetry that wrote the lock (:func:`lockfix.backends.poetry.freshness.lock_freshness`),
    as ``poetry check --lock``. uv: what the lock recorded of the project, its workspace
    members and path dependencies differs from their manifests
    (:mod:`lockfix.backends.uv.freshness`), as ``uv lock --check`` would say.
``path-drift``
    a Poetry lock's record of a path dependency no longer matches that package's
    ``pyproject.toml`` (:mod:`lockfix.backends.poetry.drift`), which ``poetry check
    --lock`` misses.
``missing-lock`` (warning)
    a Poetry or uv project that declares dependencies but has no tracked lock (uv
    workspace members are covered by their root's lock).

Exit status: 0 no errors (warnings allowed unless ``--strict``), 1 problems found,
2 usage or internal error. With paths (pre-commit passes the staged files), the packages
they name are checked, plus drift in every lock that records one of them.

In GitHub Actions (annotations on the files and lines; no Poetry needed)::

    - uses: actions/checkout@v4
    - uses: actions/setup-python@v5
      with: {python-version: "3.12"}
    - run: pip install "git+URL@v0.1.0" && lockfix check --format github

JSON output (``--format json``), schema version 1. New keys may be added within a
version; existing ones keep their meaning::

    {
      "schema": 1,
      "tool": "lockfix", "version": "<lockfix version>",
      "root": "<absolute repository root>",
      "ok": true | false,                 # the exit status is 0
      "summary": {"errors": int, "warnings": int, "packages": int},
      "findings": [
        {
          "kind": "conflict-marker" | "invalid-toml" | "invalid-lock"
                  | "unsupported-lock-version" | "stale-lock" | "path-drift"
                  | "missing-lock",
          "severity": "error" | "warning",
          "file": "<path relative to the root, / separated>",
          "line": int | null,             # 1-based
          "column": int | null,           # 1-based
          "package": "<package dir, '.' for the root>" | null,
          "manager": "poetry" | "uv" | null,   # whose file it is
          "message": "<one line>",
          "fix": "<command or instruction>" | null,
          "details": {...}                # per kind, below
        }
      ]
    }

``details`` by kind: conflict-marker ``{"marker": "<<<<<<<" | "|||||||" | "=======" |
">>>>>>>", "text": "<the line>"}``; invalid-toml ``{"detail": str}``; invalid-lock
``{"detail": str}``; unsupported-lock-version ``{"lock_version": str}``; stale-lock
``{"expected": str, "found": str | null, "rule": str}``; path-drift ``{"dependency":
"<dir>", "name": str, "changes": [{"kind": "added" | "removed" | "changed" | "version" |
"python" | "extras" | "name", "name": str, "locked": str | null, "current": str |
null}]}``; missing-lock ``{}``. A uv stale-lock has ``{"reasons": [str, ...]}`` instead
of the Poetry hashes. Findings are ordered by file, then line.
"""

from __future__ import annotations

import json
import os
import posixpath
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

from lockfix import PYPROJECT, __version__
from lockfix.backends import BACKENDS, BY_NAME, LOCKFILES
from lockfix.errors import LockfixError, MalformedToml
from lockfix.findings import Finding
from lockfix.git import Git
from lockfix.markers import Marker, classify, find_markers, git_grep_pattern
from lockfix.workspace import Package, build_graph, discover

FORMATS = ("text", "json", "github", "sarif")
SCHEMA_VERSION = 1


@dataclass
class Report:
    root: Path
    findings: list[Finding]
    packages: int
    #: packages checked per package manager label ("Poetry", "uv"), for the summary line
    by_manager: dict[str, int] = field(default_factory=dict)

    @property
    def counted(self) -> str:
        """``3 Poetry package(s)`` / ``2 Poetry and 1 uv package(s)``."""
        parts = [f"{n} {label}" for label, n in self.by_manager.items() if n]
        return (" and ".join(parts) or str(self.packages)) + " package(s)"

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")


# -- what to look at --------------------------------------------------------------------------


def _repo_paths(root: Path, cwd: Path, paths: Sequence[str]) -> list[str]:
    """Command-line paths as repository-relative posix paths ("" for the root)."""
    real_root = os.path.realpath(root)
    out = []
    for raw in paths:
        full = os.path.realpath(os.path.join(cwd, raw))
        rel = os.path.relpath(full, real_root)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
            raise LockfixError(f"{raw}: outside the repository {root}")
        rel = Path(rel).as_posix()
        out.append("" if rel == "." else rel)
    return out


def _under(path: str, prefix: str) -> bool:
    return prefix == "" or path == prefix or path.startswith(prefix + "/")


def _selected_packages(packages: Mapping[str, Package], wanted: Sequence[str]) -> set[str]:
    """Packages a path names: their directory (or one above), or one of their files."""
    chosen = set()
    for d, pkg in packages.items():
        for w in wanted:
            if _under(d, w) or w in (pkg.pyproject, pkg.lockfile):
                chosen.add(d)
                break
    return chosen


# -- conflict markers -----------------------------------------------------------------------

MarkerHits = dict[str, list[tuple[int, Marker, str]]]  # path -> (line, kind, text)
_MARKER_TEXT = {Marker.OURS: "<<<<<<<", Marker.BASE: "|||||||", Marker.SEP: "=======",
                Marker.THEIRS: ">>>>>>>"}


def start_marker_scan(root: Path, pathspecs: Sequence[str] | None
                      ) -> subprocess.Popen[bytes] | None:
    """Start ``git grep -I`` for conflict markers (:func:`lockfix.markers.git_grep_pattern`)
    in the background; ``None`` scans every tracked file, an empty list nothing."""
    if pathspecs is not None and not pathspecs:
        return None
    args = ["git", "--literal-pathspecs", "-c", "core.quotePath=false", "grep", "-I", "-n",
            "-z", "--no-color", "-E", "-e", git_grep_pattern()]
    if pathspecs is not None:
        args += ["--", *pathspecs]
    return subprocess.Popen(args, cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            env={**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"})


def finish_marker_scan(proc: subprocess.Popen[bytes] | None) -> MarkerHits:
    """Marker lines per file, each ``git grep`` hit confirmed by
    :func:`lockfix.markers.classify`; a file whose only hits are ``=======`` lines is
    dropped (heading underlines, see the module docstring)."""
    if proc is None:
        return {}
    stdout, stderr = proc.communicate()
    if proc.returncode == 1:  # no match
        return {}
    if proc.returncode != 0:
        raise LockfixError(f"git grep failed: {stderr.decode(errors='replace').strip()}")
    hits: MarkerHits = {}
    for record in stdout.split(b"\n"):
        if not record:
            continue
        raw_path, raw_line, content = record.split(b"\0", 2)
        text = content.decode("utf-8", errors="replace").rstrip("\r")
        kind = classify(text)
        if kind is None:
            continue
        path = raw_path.decode("utf-8", errors="surrogateescape")
        hits.setdefault(path, []).append((int(raw_line), kind, text))
    return {
        path: found
        for path, found in hits.items()
        if any(kind is not Marker.SEP for _, kind, _ in found)
    }


# -- reading files ------------------------------------------------------------------------------


def _read(root: Path, rel: str) -> str | None:
    try:
        return (root / rel).read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None


def _decode_error(rel: str, root: Path, package: str, exc: UnicodeDecodeError,
                  fix: str | None) -> Finding:
    data = (root / rel).read_bytes()
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    return Finding("invalid-toml", "error", rel, line, column, package,
                   f"not UTF-8 text: {exc.reason}", fix, {"detail": str(exc)})


def _line_of_key(text: str, *needles: str) -> int | None:
    for needle in needles:
        at = text.find(needle)
        if at >= 0:
            return text.count("\n", 0, at) + 1
    return None


# -- reading one package (runs in worker processes too) ----------------------------------------


@dataclass
class _PackageRead:
    """What was read of one package: plain data, so that workers can send it back."""

    dir: str
    data: dict[str, Any] | None = None  # pyproject.toml, when it parsed
    needs_lock: str | None = None  # the backend of a lockless project declaring dependencies
    dependencies_line: int | None = None
    lock: Any = None  # what the backend's check read of the lock, for judging with the rest
    findings: list[Finding] = field(default_factory=list)
    markers: dict[str, list[tuple[int, Marker, str]]] = field(default_factory=dict)


def _conflicts(text: str) -> list[tuple[int, Marker, str]]:
    """Marker lines of a file being parsed (git grep may not have scanned it)."""
    if "<<<<<<<" not in text and ">>>>>>>" not in text and "|||||||" not in text:
        return []
    hits = [(h.line, h.marker, h.text) for h in find_markers(text)]
    return hits if any(kind is not Marker.SEP for _, kind, _ in hits) else []


def _read_package(root: Path, pkg: Package, data: dict[str, Any] | None, *,
                  manifest: bool, lock: bool) -> _PackageRead:
    """Parse the package's pyproject (``manifest``) and lock (``lock``, judged against
    ``data`` or the pyproject just parsed); problems become findings."""
    from lockfix.toml import load_toml

    out = _PackageRead(pkg.dir, data)
    if manifest:
        try:
            text = _read(root, pkg.pyproject)
        except UnicodeDecodeError as exc:
            out.findings.append(_decode_error(pkg.pyproject, root, pkg.label, exc, None))
            text = None
        if text is not None:
            try:
                out.data = load_toml(text, pkg.pyproject)
            except MalformedToml as exc:
                # marker lines are never valid TOML: look for them only now
                out.markers[pkg.pyproject] = _conflicts(text)
                if not out.markers[pkg.pyproject]:
                    out.findings.append(Finding(
                        "invalid-toml", "error", pkg.pyproject, exc.line, exc.col, pkg.label,
                        f"not valid TOML: {exc.detail}", "fix pyproject.toml by hand",
                        {"detail": exc.detail}))
            if out.data is not None and not pkg.has_lock:
                out.needs_lock = next(
                    (b.name for b in BACKENDS if b.checks().needs_lock(out.data)), None)
                out.dependencies_line = _line_of_key(
                    text, "[tool.poetry.dependencies]", "dependencies =", "[tool.poetry")
    if lock and pkg.has_lock:
        _read_lock(root, pkg, out)
    return out


def _read_lock(root: Path, pkg: Package, out: _PackageRead) -> None:
    backend = BY_NAME[pkg.backend]
    restore = f"restore a valid {backend.lockfile} from git history, then lockfix run {pkg.label}"
    try:
        text = _read(root, pkg.lockfile)
    except UnicodeDecodeError as exc:
        out.findings.append(_decode_error(pkg.lockfile, root, pkg.label, exc, restore))
        return
    if text is None:
        return
    try:
        out.lock, found = backend.checks().read(pkg, text, out.data, restore)
    except MalformedToml as exc:
        out.markers[pkg.lockfile] = _conflicts(text)  # never valid TOML: look only now
        if out.markers[pkg.lockfile]:
            return
        out.findings.append(Finding(
            "invalid-toml", "error", pkg.lockfile, exc.line, exc.col, pkg.label,
            f"not valid TOML: {exc.detail}", restore, {"detail": exc.detail}, backend.name))
        return
    out.findings.extend(found)


# What forked workers read: set before the fork, so that nothing big is pickled to them.
_JOB: tuple[Path, Mapping[str, Package], Mapping[str, dict[str, Any] | None], bool] | None = None
# Below this many bytes of locks, one process is faster than starting another.
_PARALLEL_BYTES = 3_000_000


def _read_chunk(dirs: Sequence[str]) -> list[_PackageRead]:
    assert _JOB is not None
    root, packages, data, manifest = _JOB
    return [_read_package(root, packages[d], data.get(d), manifest=manifest, lock=True)
            for d in dirs]


def _read_packages(root: Path, packages: Mapping[str, Package], dirs: Sequence[str],
                   data: Mapping[str, dict[str, Any] | None], *, manifest: bool
                   ) -> list[_PackageRead]:
    """``_read_package`` over ``dirs``, in as many processes as there are cores when
    the locks are big enough to pay for it (a 200-package monorepo is ~30 MB of TOML)."""
    global _JOB
    sizes = {}
    for d in dirs:
        try:
            sizes[d] = os.path.getsize(root / packages[d].lockfile) if packages[d].has_lock else 0
        except OSError:
            sizes[d] = 0
    workers = min(os.cpu_count() or 1, 4)
    _JOB = (root, packages, data, manifest)
    import lockfix.toml  # noqa: F401  (imported once, before any fork)

    for name in sorted({packages[d].backend for d in dirs}):
        BY_NAME[name].checks()  # imported once, before any fork; only what is present

    try:
        if workers < 2 or sum(sizes.values()) < _PARALLEL_BYTES or not sys.platform.startswith(
            "linux"
        ):  # fork is only safe (and cheap) on Linux
            return _read_chunk(dirs)
        chunks: list[list[str]] = [[] for _ in range(workers)]
        loads = [0] * workers
        for d in sorted(dirs, key=lambda d: -sizes[d]):
            i = loads.index(min(loads))
            chunks[i].append(d)
            loads[i] += sizes[d] + 20_000  # a pyproject and the per-file overhead
        return [r for found in _forked(_read_chunk, chunks) for r in found]
    finally:
        _JOB = None


_T = TypeVar("_T")
_R = TypeVar("_R")


def _forked(work: Callable[[_T], list[_R]], shares: Sequence[_T]) -> list[list[_R]]:
    """``work`` over ``shares``: the first here, the others in forked processes at once
    (which inherit what the caller put in a module global before; only results travel)."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(len(shares) - 1) as pool:
        pending = pool.map_async(work, shares[1:])
        mine = work(shares[0])
        return [mine, *pending.get()]


# -- the check ----------------------------------------------------------------------------------


def _pathspecs(tracked: Sequence[str], packages: Mapping[str, Package], selected: set[str],
               wanted: Sequence[str], lockfiles_only: bool) -> list[str] | None:
    """What git grep scans: None for everything tracked."""
    tracked_set = set(tracked)
    own = {
        f for d in selected for f in (packages[d].pyproject, packages[d].lockfile)
        if f in tracked_set
    }
    if lockfiles_only:
        lock_like = {
            t for t in tracked if posixpath.basename(t) in (PYPROJECT, *LOCKFILES)
            and (not wanted or any(_under(t, w) for w in wanted))
        }
        return sorted(lock_like | own)
    if wanted:
        return sorted({w or "." for w in wanted} | own)
    return None


def _marker_findings(hits: MarkerHits, packages: Mapping[str, Package]) -> list[Finding]:
    owners = {f: p for p in packages.values() for f in (p.pyproject, p.lockfile)}
    out = []
    for path, found in hits.items():
        owner = owners.get(path)
        fix = f"lockfix run {owner.label}" if owner else "resolve the conflict by hand"
        for number, kind, line in found:
            out.append(Finding(
                "conflict-marker", "error", path, number, 1, owner.label if owner else None,
                f"conflict marker {_MARKER_TEXT[kind]}", fix,
                {"marker": _MARKER_TEXT[kind], "text": line},
                owner.backend if owner and path == owner.lockfile else None))
    return out


def _link_findings(manifests: Mapping[str, Mapping[str, Any]],
                   reads: Mapping[str, _PackageRead], packages: Mapping[str, Package],
                   root: Path, selected: set[str]) -> list[Finding]:
    """Each backend's findings that need every manifest (drift, staleness), one lock at a
    time: with many locks, split over as many processes as there are cores (the manifests
    and lock texts are inherited through fork, only findings come back)."""
    global _LINK_JOB
    chunks = [(b.name, [d for d, r in sorted(reads.items())
                        if r.lock is not None and packages[d].backend == b.name])
              for b in BACKENDS]
    chunks = [(name, dirs) for name, dirs in chunks if dirs]
    workers = min(os.cpu_count() or 1, 4)
    count = sum(len(dirs) for _, dirs in chunks)
    _LINK_JOB = (manifests, reads, packages, root, selected)
    try:
        if workers < 2 or count < _PARALLEL_LOCKS or not sys.platform.startswith("linux"):
            return [f for chunk in chunks for f in _link_chunk(chunk)]
        # each backend's locks dealt round-robin, so every process gets its share of each
        shares = [[(name, dirs[i::workers]) for name, dirs in chunks] for i in range(workers)]
        return [f for found in _forked(_link_share, shares) for f in found]
    finally:
        _LINK_JOB = None


# What forked judges read, as _JOB for readers.
_LINK_JOB: tuple[Mapping[str, Mapping[str, Any]], Mapping[str, _PackageRead],
                 Mapping[str, Package], Path, set[str]] | None = None
# Below this many locks, judging them in one process is faster than starting another.
_PARALLEL_LOCKS = 64


def _link_chunk(chunk: tuple[str, list[str]]) -> list[Finding]:
    assert _LINK_JOB is not None
    manifests, reads, packages, root, selected = _LINK_JOB
    name, dirs = chunk
    locks = {d: reads[d].lock for d in dirs}
    return BY_NAME[name].checks().link_findings(manifests, locks, packages, root, selected)


def _link_share(share: list[tuple[str, list[str]]]) -> list[Finding]:
    return [f for chunk in share if chunk[1] for f in _link_chunk(chunk)]


def run_checks(paths: Sequence[str], *, cwd: Path, lockfiles_only: bool = False) -> Report:
    """Every finding for the repository holding ``cwd``, limited to ``paths`` if any.

    With paths, the packages they name are checked, plus path-dependency drift in every
    package that depends on them (a changed pyproject.toml makes *their* locks stale).
    """
    root = Git(cwd).toplevel()
    git = Git(root)  # ls-files names paths relative to where git runs
    wanted = _repo_paths(root, cwd, paths) if paths else []
    # the whole-repository scan needs no file list: let git grep run meanwhile
    grep = start_marker_scan(root, None) if not wanted and not lockfiles_only else None
    try:
        return _run_checks(git, root, paths, wanted, grep, lockfiles_only)
    except BaseException:
        if grep is not None and grep.returncode is None:  # not collected yet
            grep.kill()
            grep.communicate()
        raise


def _run_checks(git: Git, root: Path, paths: Sequence[str], wanted: Sequence[str],
                grep: subprocess.Popen[bytes] | None, lockfiles_only: bool) -> Report:
    tracked = git.ls_files()
    if wanted:
        known = set(tracked) | {""}
        for t in tracked:  # every directory holding a tracked file
            while "/" in t:
                t = t.rsplit("/", 1)[0]
                if t in known:
                    break
                known.add(t)
        unknown = [p for p, w in zip(paths, wanted) if w not in known]
        if unknown:
            raise LockfixError(f"not tracked by git: {', '.join(unknown)}")
    packages = discover(tracked)
    selected = _selected_packages(packages, wanted) if wanted else set(packages)

    if grep is None:
        grep = start_marker_scan(root, _pathspecs(tracked, packages, selected, wanted,
                                                 lockfiles_only))
    if wanted:  # every pyproject first: the graph says which other locks matter
        first = [_read_package(root, p, None, manifest=True, lock=False)
                 for p in packages.values()]
        data = {r.dir: r.data for r in first}
        manifests = {d: v for d, v in data.items() if v is not None}
        dirs = sorted(set(selected) | build_graph(manifests).dependents_closure(selected))
        reads = {r.dir: r for r in _read_packages(root, packages, dirs, data, manifest=False)}
        for r in first:
            mine = reads.setdefault(r.dir, r)
            if mine is not r:
                mine.findings[:0] = r.findings
                mine.markers.update(r.markers)
                mine.needs_lock, mine.dependencies_line = r.needs_lock, r.dependencies_line
    else:
        reads = {r.dir: r for r in _read_packages(root, packages, sorted(packages), {},
                                                  manifest=True)}
        manifests = {d: r.data for d, r in reads.items() if r.data is not None}
    hits = finish_marker_scan(grep)
    # projects whose lock is another package's (uv workspace members): the lock's backend
    owner = {m: p.backend for d, p in packages.items() if p.has_lock and d in manifests
             for m in BY_NAME[p.backend].members(manifests[d], d, set(manifests))}

    findings: list[Finding] = []
    for d in sorted(selected):
        r = reads[d]
        for path, found in r.markers.items():
            if found and path not in hits:  # a file git treats as binary, or not scanned
                hits[path] = found
        findings.extend(r.findings)
        if r.needs_lock and d not in owner:
            pkg, backend = packages[d], BY_NAME[r.needs_lock]
            lockfile = posixpath.join(d, backend.lockfile) if d else backend.lockfile
            command = backend.checks().lock_command(pkg.label)
            findings.append(Finding(
                "missing-lock", "warning", pkg.pyproject, r.dependencies_line, None, pkg.label,
                f"declares dependencies but has no {backend.lockfile}",
                f"{command}, then git add {lockfile}", {}, backend.name))
    findings += _marker_findings(hits, packages)
    findings += _link_findings(manifests, reads, packages, root, selected)
    findings.sort(key=lambda f: (f.file, f.line or 0, f.kind))
    by_manager: dict[str, int] = {}
    for d in sorted(selected):
        pkg, manifest = packages[d], manifests.get(d)
        name = pkg.backend if pkg.has_lock else owner.get(d) or next(
            (b.name for b in BACKENDS if manifest is not None and b.owns(manifest)), None)
        label = BY_NAME[name].label if name else "other"
        by_manager[label] = by_manager.get(label, 0) + 1
    return Report(root, findings, len(selected), by_manager)


# -- output -------------------------------------------------------------------------------------


def render_text(report: Report, out: TextIO) -> None:
    if not report.findings:
        print(f"lockfix check: no problems ({report.counted}).", file=out)
        return
    groups: dict[str, list[Finding]] = {}
    for f in report.findings:
        groups.setdefault(f.fix or "", []).append(f)
    counts = []
    if report.errors:
        counts.append(f"{report.errors} error(s)")
    if report.warnings:
        counts.append(f"{report.warnings} warning(s)")
    print(f"lockfix check: {', '.join(counts)}", file=out)
    for fix, items in groups.items():
        print(file=out)
        print(f"fix: {fix}" if fix else "fix: see below", file=out)
        shown: dict[str, int] = {}
        for f in items:
            if f.kind == "conflict-marker":
                shown[f.file] = shown.get(f.file, 0) + 1
                if shown[f.file] > 12:
                    continue
            where = f.file + (f":{f.line}" if f.line else "") + (
                f":{f.column}" if f.column and f.kind != "conflict-marker" else "")
            text = f.message
            if f.kind == "conflict-marker":
                text = f"conflict marker: {f.details.get('text', '')}"
            print(f"  {where}: {f.severity}: {text}", file=out)
        for path, n in shown.items():
            if n > 12:
                print(f"  {path}: ... {n - 12} more conflict-marker line(s)", file=out)


def render_json(report: Report, out: TextIO, *, strict: bool) -> None:
    document = {
        "schema": SCHEMA_VERSION,
        "tool": "lockfix",
        "version": __version__,
        "root": str(report.root),
        "ok": exit_status(report, strict=strict) == 0,
        "summary": {"errors": report.errors, "warnings": report.warnings,
                    "packages": report.packages},
        "findings": [f.as_json() for f in report.findings],
    }
    json.dump(document, out, indent=2)
    out.write("\n")


def _gh_escape(value: str, *, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def render_github(report: Report, out: TextIO) -> None:
    """Workflow commands: GitHub shows them as annotations on the files and lines."""
    for f in report.findings:
        props = [f"file={_gh_escape(f.file, prop=True)}"]
        if f.line:
            props.append(f"line={f.line}")
        if f.column:
            props.append(f"col={f.column}")
        props.append(f"title={_gh_escape('lockfix ' + f.kind, prop=True)}")
        message = f.message + (f" (fix: {f.fix})" if f.fix else "")
        level = "error" if f.severity == "error" else "warning"
        print(f"::{level} {','.join(props)}::{_gh_escape(message)}", file=out)
    print(f"lockfix check: {report.errors} error(s), {report.warnings} warning(s)", file=out)


def render_sarif(report: Report, out: TextIO) -> None:
    """SARIF 2.1.0, for code-scanning dashboards."""
    kinds = sorted({f.kind for f in report.findings})
    results = []
    for f in report.findings:
        region: dict[str, int] = {}
        if f.line:
            region["startLine"] = f.line
        if f.column:
            region["startColumn"] = f.column
        location: dict[str, Any] = {"artifactLocation": {"uri": f.file}}
        if region:
            location["region"] = region
        results.append({
            "ruleId": f.kind,
            "level": "error" if f.severity == "error" else "warning",
            "message": {"text": f.message + (f" (fix: {f.fix})" if f.fix else "")},
            "locations": [{"physicalLocation": location}],
        })
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "lockfix", "version": __version__,
                "rules": [{"id": k, "shortDescription": {"text": k.replace("-", " ")}}
                          for k in kinds],
            }},
            "results": results,
        }],
    }
    json.dump(document, out, indent=2)
    out.write("\n")


def exit_status(report: Report, *, strict: bool) -> int:
    return 1 if report.errors or (strict and report.warnings) else 0


def check(
    paths: Iterable[str],
    *,
    cwd: Path,
    fmt: str = "text",
    lockfiles_only: bool = False,
    strict: bool = False,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Run ``lockfix check``; returns the exit status (0 clean, 1 problems, 2 error)."""
    try:
        report = run_checks(list(paths), cwd=cwd, lockfiles_only=lockfiles_only)
    except LockfixError as exc:
        print(f"lockfix check: {exc}", file=err)
        return 2
    except Exception as exc:  # a bug must not pass for "problems found" (exit 1)
        import traceback

        traceback.print_exc(file=err)
        print(f"lockfix check: internal error: {exc!r}", file=err)
        return 2
    if fmt == "json":
        render_json(report, out, strict=strict)
    elif fmt == "github":
        render_github(report, out)
    elif fmt == "sarif":
        render_sarif(report, out)
    else:
        render_text(report, out)
    return exit_status(report, strict=strict)
