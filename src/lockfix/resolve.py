"""The engine behind ``lockfix run``: find what is wrong in each package, then fix it.

Planning is pure reading (git stages, working files, parsing, hashing). Fixing a package
happens in a private tree under the git dir (:mod:`lockfix.privatetree`): its merged
``pyproject.toml`` and preferred lock are written there, the package's backend (Poetry,
uv) relocks there, and only the verified result replaces the working-tree files,
atomically. A failed or interrupted package is left exactly as git left it. Nothing here
knows which package manager owns a lock: that is :mod:`lockfix.backends`' business.
"""

from __future__ import annotations

import posixpath
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockfix import markers, privatetree, sides
from lockfix.backends import BY_NAME, Relocker, Tool
from lockfix.config import Settings
from lockfix.errors import LockfixError, MalformedToml
from lockfix.git import Git, Operation
from lockfix.manifest import merge_manifest
from lockfix.toml import load_toml
from lockfix.workspace import Graph, Package, build_graph, discover, links


@dataclass
class Plan:
    """What lockfix will do to one package, and why."""

    package: Package
    reasons: list[str] = field(default_factory=list)
    manifest_text: str | None = None  # merged pyproject.toml to write, if it needs one
    manifest_data: Mapping[str, Any] | None = None  # the manifest as it will be
    preferred_lock: str | None = None  # preferred lock to write before relocking
    relock: bool = False
    full_resolve: bool = False  # no usable preferred lock: Poetry resolves from scratch
    notes: list[str] = field(default_factory=list)
    error: LockfixError | None = None  # planning already failed: nothing will be written
    stage: list[str] = field(default_factory=list)  # paths to `git add` after success
    #: why this package is reported, not fixed: the stopped operation did not touch it
    #: and it was already broken on both sides (see :func:`_leave_alone_untouched`)
    left_alone: str | None = None

    @property
    def needs_work(self) -> bool:
        return bool(self.reasons) or self.error is not None


@dataclass
class Outcome:
    plan: Plan
    status: str  # "resolved" | "failed" | "skipped" | "would fix"
    seconds: float = 0.0
    message: str = ""


@dataclass
class Workspace:
    """A repository's packages with their (merged, where needed) manifests and graph."""

    root: Path
    git: Git
    plans: dict[str, Plan]
    graph: Graph


def _read(root: Path, rel: str) -> str | None:
    try:
        return (root / rel).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _manifest_sides(
    git: Git, root: Path, rel: str, unmerged: Mapping[str, dict[int, str]], text: str | None
) -> tuple[sides.Sides | None, Mapping[str, Any] | None]:
    """(sides to merge, or parsed data when the file is fine as it is)."""
    if rel in unmerged:
        return sides.from_index(git, rel, unmerged[rel]), None
    if text is None:
        raise LockfixError(f"{rel}: missing from the working tree")
    split = sides.from_markers(text)
    if split is not None:
        return split, None
    try:
        return None, load_toml(text, rel)
    except MalformedToml:
        # git may merge two valid files "cleanly" into invalid TOML (both sides added
        # the same table in different places): redo that merge from the commits.
        redo = sides.from_operation(git, rel)
        if redo is None:
            raise
        return redo, None


def _plan_manifest(plan: Plan, git: Git, root: Path, unmerged: Mapping[str, dict[int, str]],
                   settings: Settings) -> None:
    rel = plan.package.pyproject
    text = _read(root, rel)
    found, data = _manifest_sides(git, root, rel, unmerged, text)
    if found is None:
        plan.manifest_data = data
        return
    merged = merge_manifest(
        found.base, found.ours, found.theirs, settings.manifest_policy, where=rel
    )
    plan.manifest_text = merged.text
    plan.manifest_data = load_toml(merged.text, rel)
    plan.reasons.append(f"pyproject.toml conflicted ({found.origin})")
    plan.notes.extend(c.note() for c in merged.clashes)
    plan.stage.append(rel)


def _plan_lock(plan: Plan, git: Git, root: Path, unmerged: Mapping[str, dict[int, str]],
               settings: Settings, tools: Mapping[str, Tool | None],
               manifests: Mapping[str, Mapping[str, Any]]) -> None:
    pkg = plan.package
    backend = BY_NAME[pkg.backend]
    rel = pkg.lockfile
    name = backend.lockfile
    assert plan.manifest_data is not None
    found: sides.Sides | None = None
    if rel in unmerged:
        found = sides.from_index(git, rel, unmerged[rel])
    text = _read(root, rel)
    if found is None and text is not None:
        found = sides.from_markers(text, check_base=lambda base: backend.lock_version(base, rel))
    if found is not None:
        merged = backend.merge_locks(found.base, found.ours, found.theirs, settings.lock_policy,
                                     where=rel, manifest=plan.manifest_data)
        plan.preferred_lock = merged.text
        version = merged.lock_version
        plan.reasons.append(f"{name} conflicted ({found.origin})")
        if merged.clashes:
            names = ", ".join(c.name for c in merged.clashes)
            plan.notes.append(f"lock clash on {names}: {merged.clashes[0].resolution}")
        plan.relock = True
        plan.stage.append(rel)
    elif text is None:
        return
    else:
        starting, version = backend.starting_lock(text, rel)
        judged = backend.freshness(text, pkg.dir, manifests, root=root)
        # relock when stale, or when a manifest it records changed (its own, merged, or a
        # path dependency's: the reasons planned so far)
        if not judged.fresh or plan.reasons:
            plan.reasons.extend(f"{name} stale: {r}" for r in judged.reasons)
            plan.preferred_lock = starting
            plan.relock = True
            plan.stage.append(rel)
    tool = tools.get(pkg.backend)
    if plan.preferred_lock is not None and tool is not None and not tool.reads(version):
        plan.full_resolve = True
        plan.notes.append(
            f"{name} version {version} is unreadable for {tool.label}: resolving from scratch"
        )


def plan_workspace(
    git: Git,
    settings: Settings,
    *,
    only: Iterable[str] = (),
    tools: Mapping[str, Tool | None] | None = None,
) -> Workspace:
    """Inspect every package; ``only`` (repository-relative dirs) limits what is fixed."""
    root = git.toplevel()
    unmerged = git.unmerged()
    packages = discover(git.ls_files())
    plans = {d: Plan(p) for d, p in packages.items()}
    for plan in plans.values():
        try:
            _plan_manifest(plan, git, root, unmerged, settings)
        except LockfixError as exc:
            plan.error = exc
    graph = build_graph({d: p.manifest_data for d, p in plans.items() if p.manifest_data is not None})
    changed = [d for d, p in plans.items() if p.manifest_text is not None]
    for d in sorted(graph.dependents_closure(changed) - set(changed)):
        plan = plans[d]
        if plan.package.has_lock:
            reached = graph.reachable(d)
            users = [c for c in changed if c in reached]
            plan.reasons.append(f"path dependency changed ({', '.join(users)})")
    manifests = {d: p.manifest_data for d, p in plans.items() if p.manifest_data is not None}
    for plan in plans.values():
        if plan.error is not None or not (plan.package.has_lock or plan.package.lockfile in unmerged):
            continue
        try:
            _plan_lock(plan, git, root, unmerged, settings, tools or {}, manifests)
        except LockfixError as exc:
            plan.error = exc
        if plan.reasons and plan.package.has_lock and not plan.relock and plan.error is None:
            # a path dependency changed although this lock's own hash is fine
            plan.relock = True
            plan.preferred_lock = _read(root, plan.package.lockfile)
            plan.stage.append(plan.package.lockfile)
    named: set[str] = set()  # packages named exactly on the command line
    wanted = ["" if w.strip("/") == "." else w.strip("/") for w in only]
    if wanted:
        chosen: set[str] = set()
        for w in wanted:
            if w in plans:  # a package: that package ("." is the root one), not those under it
                named.add(w)
                chosen.add(w)
            else:  # a directory holding packages: all of them
                chosen.update(d for d in plans if not w or d.startswith(w + "/"))
        # what a chosen package depends on must be fixed first, or its relock cannot work
        chosen.update(dep for d in list(chosen) for dep in graph.reachable(d))
        for d, plan in plans.items():
            if d not in chosen:
                plan.reasons.clear()
                plan.error = None
    op = git.operation()
    if op is not None:
        _leave_alone_untouched(git, root, plans, graph, unmerged, op, exempt=named)
        _note_incoming_build_code(git, plans, graph, op, tools or {})
    for cycle in graph.cycles:
        for d in cycle:
            if plans[d].needs_work:
                loop = [plans[c].package.label for c in [*cycle, cycle[0]]]
                plans[d].notes.append("path-dependency cycle: " + " -> ".join(loop))
    return Workspace(root, git, plans, graph)


def _leave_alone_untouched(git: Git, root: Path, plans: Mapping[str, Plan], graph: Graph,
                           unmerged: Mapping[str, dict[int, str]], op: Operation,
                           *, exempt: set[str]) -> None:
    """During a merge, rebase or cherry-pick, mark packages that are broken only because
    they already were: nothing of theirs is conflicted, their files (and the manifests
    they reach by path) are the same on both sides, and the working tree still holds
    exactly that. Deliberately broken test fixtures are the usual case; repairing them is
    not the operation's business, and failing to must not fail the run."""
    candidates = [p for d, p in plans.items() if p.needs_work and d not in exempt]
    if not candidates:
        return
    try:
        _, ours, theirs = git.operation_sides(op)
    except LockfixError:
        return
    files = {
        p.package.dir: [
            p.package.pyproject,
            p.package.lockfile,
            *(plans[r].package.pyproject for r in graph.reachable(p.package.dir)),
        ]
        for p in candidates
    }
    every = sorted({f for fs in files.values() for f in fs})
    ids = git.object_ids([f"{rev}:{f}" for rev in (ours, theirs) for f in every])
    at_ours = dict(zip(every, ids[: len(every)]))
    at_theirs = dict(zip(every, ids[len(every) :]))

    def on_disk(rel: str) -> str | None:
        try:
            return git.hash_blob((root / rel).read_bytes(), ours)
        except FileNotFoundError:
            return None

    for plan in candidates:
        fs = files[plan.package.dir]
        if any(f in unmerged or at_ours[f] != at_theirs[f] for f in fs):
            continue
        if any(on_disk(f) != at_ours[f] for f in fs):
            continue  # changed since: the operation (or the user) did touch it
        plan.left_alone = f"not touched by the {op.kind}, and already so on both sides"


def _note_incoming_build_code(git: Git, plans: Mapping[str, Plan], graph: Graph,
                              op: Operation, tools: Mapping[str, Tool | None]) -> None:
    """``lockfix run`` is explicit, like ``poetry lock``: it may run the build code of the
    packages it relocks, but says so (a note per package) when that code came from the
    other side of the stopped operation (see :mod:`lockfix.buildsafety`)."""
    from lockfix.buildsafety import new_build_code, reader_for

    relocking = [p for p in plans.values() if p.relock and p.error is None and p.left_alone is None]
    if not relocking:
        return
    try:
        _, ours, theirs = git.operation_sides(op)
    except LockfixError:
        return
    for plan in relocking:
        dirs = [plan.package.dir, *graph.reachable(plan.package.dir)]
        manifests = {d: m for d in dirs if d in plans and (m := plans[d].manifest_data) is not None}
        tool = tools.get(plan.package.backend)
        reader = reader_for(plan.package.backend, tool.version if tool is not None else (2,))
        for found in new_build_code(git, ours, theirs, manifests, reader):
            plan.notes.append(f"runs build code from the other side of the {op.kind}: "
                              f"{found.describe()}")


# -- execution ---------------------------------------------------------------------------


def _manifest_final(plan: Plan) -> bool:
    """Is this package's pyproject.toml on disk what it will be? A dependent's lock
    depends on it (not on the package's lock): a failed lock does not block dependents,
    a manifest that still needed merging does."""
    return plan.manifest_text is None and plan.manifest_data is not None


def _tree_files(ws: Workspace, dirs: list[str], extra: list[str]) -> list[str]:
    """What a relock of the first of ``dirs`` can read: the files of each package (tracked,
    or untracked and not ignored, such as a local ``poetry.toml``), nested packages apart,
    and everything under ``extra`` (directories named by path that are not packages)."""
    out = ws.git.run_bytes(
        ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
         *(d or "." for d in [*dirs, *extra])]
    ).stdout
    listed = list(dict.fromkeys(p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p))
    owned = [f for d in dirs for f in privatetree.owned_files(listed, d, ws.plans)]
    return owned + [f for f in listed if any(f.startswith(e + "/") for e in extra) and f not in owned]


_DEEP = "_/" * 32  # a pretend location deep enough that no relative path climbs out of it


def _path_targets(ws: Workspace, dirs: list[str]) -> tuple[list[str], list[str]]:
    """(directories inside the repository that the manifests of ``dirs`` name by path but
    that are not among ``dirs``, relative paths that leave the repository)."""
    inside: list[str] = []
    outside: list[str] = []
    for d in dirs:
        data = ws.plans[d].manifest_data if d in ws.plans else None
        if data is None:
            continue
        inside += [t for t in links(data, d) if t and t not in dirs and t not in inside]
        outside += [t for t in links(data, _DEEP + d) if not (t + "/").startswith(_DEEP)]
    return inside, outside


def apply_plan(ws: Workspace, plan: Plan, relocker: Relocker | None, settings: Settings,
               *, area: Path | None = None) -> float:
    """Relock one package in a private tree, then move its finished files into place.

    The tree (under ``area``, see :func:`privatetree.run_area`) holds the package and every
    package it reaches by path, at the same relative places, with their final manifests.
    Nothing in the working tree changes until Poetry's lock is verified; then the lock and
    then the manifest are replaced atomically. A failure or Ctrl-C leaves the package's
    files as they were, and the tree is removed in every case.
    """
    if plan.error is not None:
        raise plan.error
    if area is None:
        with privatetree.run_area(ws.git.git_dir()) as own:
            return apply_plan(ws, plan, relocker, settings, area=own)
    root = ws.root
    pkg = plan.package
    started = time.monotonic()
    dirs = [pkg.dir, *ws.graph.reachable(pkg.dir)] if plan.relock else [pkg.dir]
    overrides: dict[str, str | None] = {}
    for d in dirs:
        text = ws.plans[d].manifest_text if d in ws.plans else None
        if text is not None:
            overrides[ws.plans[d].package.pyproject] = text
    finished = []
    if plan.relock:
        if relocker is None:
            raise LockfixError(f"internal: relock planned without {pkg.backend}")
        if plan.full_resolve:
            overrides[pkg.lockfile] = None
        elif plan.preferred_lock is not None:
            overrides[pkg.lockfile] = plan.preferred_lock
        finished.append(pkg.lockfile)
    if plan.manifest_text is not None:
        finished.append(pkg.pyproject)  # last: a final manifest means a finished package
    extra, outside = _path_targets(ws, dirs) if plan.relock else ([], [])
    if outside:
        # the private tree cannot hold what lies outside the repository at the same
        # relative place: relock in place, as before (restored on failure)
        plan.notes.append("relocked in place: a path dependency lies outside the repository")
        return _apply_in_place(ws, plan, relocker, settings)
    tree = privatetree.tree_for(area, pkg.dir)
    try:
        files = _tree_files(ws, dirs, extra) if plan.relock else []
        privatetree.materialize(root, tree, files, overrides)
        if relocker is not None and plan.relock:
            try:
                relocker.relock(tree / (pkg.dir or "."), timeout=settings.timeout)
                _verify(ws, pkg, tree)
            except LockfixError as exc:  # name the user's directory, not the private one
                exc.message = exc.message.replace(str(tree), str(root).rstrip("/"))
                raise
        privatetree.install(tree, root, finished)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    return time.monotonic() - started


def _snapshot(root: Path, rels: Iterable[str]) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for rel in rels:
        try:
            out[rel] = (root / rel).read_bytes()
        except FileNotFoundError:
            out[rel] = None
    return out


def _restore(root: Path, saved: Mapping[str, bytes | None]) -> None:
    for rel, data in saved.items():
        path = root / rel
        if data is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(data)


def _apply_in_place(ws: Workspace, plan: Plan, relocker: Relocker | None,
                    settings: Settings) -> float:
    """The fallback for a package reaching outside the repository by a relative path:
    write and relock in the package directory; on failure restore its files and re-raise.
    Not safe against a kill, as :func:`apply_plan` is."""
    root = ws.root
    pkg = plan.package
    saved = _snapshot(root, [pkg.pyproject, pkg.lockfile])
    started = time.monotonic()
    try:
        if plan.manifest_text is not None:
            (root / pkg.pyproject).write_text(plan.manifest_text, encoding="utf-8")
        if relocker is None:
            raise LockfixError(f"internal: relock planned without {pkg.backend}")
        lock_path = root / pkg.lockfile
        if plan.full_resolve:
            lock_path.unlink(missing_ok=True)
        elif plan.preferred_lock is not None:
            lock_path.write_text(plan.preferred_lock, encoding="utf-8")
        relocker.relock(root / (pkg.dir or "."), timeout=settings.timeout)
        _verify(ws, pkg, root)
    except BaseException:
        _restore(root, saved)
        raise
    return time.monotonic() - started


def _verify(ws: Workspace, pkg: Package, tree: Path) -> None:
    """Never report success for a lock that is not fresh for its manifests (read from the
    private ``tree`` the package was relocked in)."""
    backend = BY_NAME[pkg.backend]
    lock_text = (tree / pkg.lockfile).read_text(encoding="utf-8")
    if markers.has_conflicts(lock_text):
        raise LockfixError(f"{pkg.lockfile}: {backend.label} left conflict markers in the lock")
    manifests = {d: p.manifest_data for d, p in ws.plans.items() if p.manifest_data is not None}
    manifests[pkg.dir] = load_toml(
        (tree / pkg.pyproject).read_text(encoding="utf-8"), pkg.pyproject
    )
    judged = backend.freshness(lock_text, pkg.dir, manifests, root=tree)
    if not judged.fresh:
        raise LockfixError(
            f"{pkg.lockfile}: {backend.label} wrote a lock that does not match the manifests "
            f"({'; '.join(judged.reasons)})"
        )


def execute(
    ws: Workspace,
    relockers: Mapping[str, Relocker],
    settings: Settings,
    *,
    jobs: int,
    stage: bool,
    on_start: Callable[[Plan], None] = lambda plan: None,
    on_done: Callable[[Outcome], None] = lambda outcome: None,
) -> list[Outcome]:
    """Fix every package that needs it: dependencies first, independent ones in parallel.

    Packages left alone (see :func:`plan_workspace`) are not touched. A package is skipped
    when a path dependency failed before its manifest was final."""
    todo = {d: p for d, p in ws.plans.items() if p.needs_work and p.left_alone is None}
    failed: set[str] = set()
    outcomes: list[Outcome] = []

    def one(plan: Plan, area: Path) -> Outcome:
        blocked = [
            d for d in ws.graph.reachable(plan.package.dir)
            if d in failed and not _manifest_final(ws.plans[d])
        ]
        if blocked:
            return Outcome(
                plan, "skipped",
                message=f"path dependency failed before its pyproject.toml was final: "
                        f"{', '.join(ws.plans[d].package.label for d in blocked)}",
            )
        on_start(plan)
        try:
            seconds = apply_plan(ws, plan, relockers.get(plan.package.backend), settings,
                                 area=area)
        except LockfixError as exc:
            return Outcome(plan, "failed", message=str(exc))
        return Outcome(plan, "resolved", seconds)

    with privatetree.run_area(ws.git.git_dir()) as area, \
            ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        privatetree.remove_leftovers(
            ws.root, [rel for p in todo.values() for rel in (p.package.pyproject, p.package.lockfile)]
        )
        for level in ws.graph.levels(todo):
            for outcome in pool.map(lambda plan: one(plan, area), [todo[d] for d in level]):
                if outcome.status != "resolved":
                    failed.add(outcome.plan.package.dir)
                outcomes.append(outcome)
                on_done(outcome)
    if stage:
        paths = [rel for o in outcomes if o.status == "resolved" for rel in o.plan.stage]
        ws.git.add(sorted(set(paths)))
    return outcomes


def relative_dirs(root: Path, cwd: Path, paths: Iterable[str]) -> list[str]:
    """Command-line paths (relative to ``cwd``) as repository-relative directories."""
    out = []
    for raw in paths:
        full = (cwd / raw).resolve()
        try:
            rel = full.relative_to(root.resolve()).as_posix()
        except ValueError:
            raise LockfixError(f"{raw}: outside the repository {root}") from None
        if full.is_file():
            rel = posixpath.dirname(rel)
        out.append("" if rel == "." else rel)
    return out
