"""``lockfix run``: fix conflicted or stale Poetry files after a merge, rebase or
cherry-pick stopped, or whenever locks have gone stale."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from lockfix import GIT_WORK_DIR, privatetree
from lockfix.backends.poetry.tool import Poetry, PoetrySession, find_poetry
from lockfix.config import Settings, load_settings
from lockfix.errors import LockfixError
from lockfix.git import Git
from lockfix.report import Progress
from lockfix.resolve import Outcome, Plan, execute, plan_workspace, relative_dirs

NEXT_STEP = {
    "merge": "git commit",
    "rebase": "git rebase --continue",
    "cherry-pick": "git cherry-pick --continue",
    "revert": "git revert --continue",
}


def default_jobs() -> int:
    """Poetry is a Python process that mostly waits on the index or the CPU; one per core,
    at least two so that network waits overlap."""
    return max(2, min(8, os.cpu_count() or 1))


def _line(plan: Plan) -> str:
    return "; ".join(plan.reasons) or (str(plan.error).splitlines()[0] if plan.error else "")


def run(
    paths: tuple[str, ...],
    *,
    cwd: Path,
    flags: Mapping[str, object],
    jobs: int | None,
    dry_run: bool,
    stage: bool,
    quiet: bool,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    root = Git(cwd).toplevel()
    git = Git(root)  # ls-files and friends answer relative to where they run
    settings: Settings = load_settings(root).override(**flags)
    only = relative_dirs(root, cwd, paths) if paths else []

    poetry: Poetry | None = None
    poetry_error: LockfixError | None = None
    try:
        poetry = find_poetry(settings.poetry)
    except LockfixError as exc:
        poetry_error = exc
    # Poetry starts (and imports itself) while lockfix plans; unused, it is stopped at once.
    # It relocks in private trees under the git dir: its venvs go to a stable private place.
    env = privatetree.poetry_env(git.git_dir() / GIT_WORK_DIR, os.environ)
    starting = poetry.session(env) if poetry and not dry_run else contextlib.nullcontext()
    with starting as session:
        return _run(git, settings, only, poetry, session, poetry_error, dry_run=dry_run,
                    stage=stage, quiet=quiet, jobs=jobs, out=out, err=err)


def _run(git: Git, settings: Settings, only: list[str], poetry: Poetry | None,
         session: PoetrySession | None, poetry_error: LockfixError | None, *, dry_run: bool,
         stage: bool, quiet: bool, jobs: int | None, out: TextIO, err: TextIO) -> int:
    ws = plan_workspace(
        git, settings, only=only, poetry_version=poetry.version if poetry else None
    )
    todo = [p for p in ws.plans.values() if p.needs_work and p.left_alone is None]
    alone = [p for p in ws.plans.values() if p.needs_work and p.left_alone is not None]
    if not todo:
        if not quiet:
            print("lockfix: nothing to do" + ("." if alone else ": no conflicted or stale Poetry files."),
                  file=out)
            _report_left_alone(alone, out)
        return 0

    if dry_run:
        print(f"lockfix run --dry-run: {len(todo)} package(s) would change:", file=out)
        for plan in todo:
            action = "cannot fix" if plan.error else ("relock" if plan.relock else "merge")
            print(f"  {plan.package.label}: {action}: {_line(plan)}", file=out)
            for note in plan.notes:
                print(f"      {note}", file=out)
            if plan.error:
                print(f"      {plan.error}", file=out)
        _report_left_alone(alone, out)
        return 1 if any(p.error for p in todo) else 0

    if poetry is None and any(p.relock for p in todo):
        assert poetry_error is not None
        print(f"lockfix: {poetry_error}", file=err)
        print("lockfix: nothing was changed.", file=err)
        return 1

    progress = Progress(len(todo), err, quiet=quiet)
    outcomes = execute(
        ws,
        session,
        settings,
        jobs=jobs or default_jobs(),
        stage=stage,
        on_start=lambda plan: progress.start(plan.package.label),
        on_done=lambda o: progress.finish(o.plan.package.label, _progress_line(o)),
    )
    progress.close()
    status = _summary(outcomes, git, out=out, err=err, stage=stage, quiet=quiet)
    if not quiet:
        _report_left_alone(alone, out)
    return status


def _report_left_alone(alone: list[Plan], out: TextIO) -> None:
    """Packages broken before the stopped operation and untouched by it: said, not fixed."""
    if not alone:
        return
    print(f"\nlockfix: left alone ({alone[0].left_alone}):", file=out)
    for plan in alone:
        print(f"  {plan.package.label}: {_line(plan)}", file=out)
    print("  to fix them anyway: lockfix run PATH (or lockfix run once the operation is done)",
          file=out)


def _progress_line(o: Outcome) -> str:
    if o.status == "resolved":
        return f"lockfix: {o.plan.package.label}: fixed in {o.seconds:.1f}s"
    return f"lockfix: {o.plan.package.label}: {o.status}"


def _summary(outcomes: list[Outcome], git: Git, *, out: TextIO, err: TextIO, stage: bool,
             quiet: bool) -> int:
    failed = [o for o in outcomes if o.status != "resolved"]
    if not quiet or failed:
        width = max(len(o.plan.package.label) for o in outcomes)
        print("\nlockfix summary:", file=out)
        for o in outcomes:
            took = f"{o.seconds:5.1f}s" if o.status == "resolved" else "     -"
            print(f"  {o.plan.package.label:<{width}}  {o.status:<8} {took}  {_line(o.plan)}",
                  file=out)
            for note in o.plan.notes:
                print(f"  {'':<{width}}    note: {note}", file=out)
    for o in failed:
        print(f"\nlockfix: {o.plan.package.label}: {o.message}", file=err)
        print("  its files were left as they were.", file=err)
    remaining = sorted(git.unmerged())
    op = git.operation()
    if failed:
        return 1
    if not quiet:
        staged = " and staged" if stage else ""
        print(f"\nlockfix: all {len(outcomes)} package(s) fixed{staged}.", file=out)
        if remaining:
            print(f"  other conflicted files remain: {', '.join(remaining)}", file=out)
        elif op is not None:
            print(f"  next: {NEXT_STEP[op.kind]}", file=out)
    return 0
