"""``lockfix run``: fix conflicted or stale lock files (Poetry, uv) after a merge, rebase or
cherry-pick stopped, or whenever locks have gone stale."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

from lockfix import GIT_WORK_DIR
from lockfix.backends import BY_NAME, Session, Tool
from lockfix.config import Settings, load_settings
from lockfix.errors import LockfixError
from lockfix.git import Git
from lockfix.report import Progress
from lockfix.resolve import Outcome, Plan, execute, plan_workspace, relative_dirs
from lockfix.workspace import discover

NEXT_STEP = {
    "merge": "git commit",
    "rebase": "git rebase --continue",
    "cherry-pick": "git cherry-pick --continue",
    "revert": "git revert --continue",
    "am": "git am --continue",
}


def default_jobs(tools: Iterable[Tool] = ()) -> int:
    """Relocks at once: per core, as many as the busiest tool present runs well (Poetry
    one, a Python process that mostly waits on the index or the CPU; uv two, a native
    process that mostly waits on the index), at least two so that network waits overlap."""
    per_core = max((t.relocks_per_core for t in tools), default=1)
    return max(2, min(8, (os.cpu_count() or 1) * per_core))


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

    # the tools of the locks this repository tracks start (Poetry imports itself) while
    # lockfix plans; unused, they are stopped at once
    present = sorted({p.backend for p in discover(git.ls_files()).values() if p.has_lock})
    tools: dict[str, Tool | None] = {}
    errors: dict[str, LockfixError] = {}
    for name in present:
        try:
            tools[name] = BY_NAME[name].find_tool(settings.executable(name))
        except LockfixError as exc:
            tools[name], errors[name] = None, exc
    with contextlib.ExitStack() as stack:
        sessions: dict[str, Session] = {}
        if not dry_run:
            for name, tool in tools.items():
                if tool is not None:  # relocks run in private trees under the git dir
                    env = BY_NAME[name].private_env(os.environ, git.git_dir() / GIT_WORK_DIR)
                    sessions[name] = stack.enter_context(tool.session(env))
        return _run(git, settings, only, tools, sessions, errors, dry_run=dry_run,
                    stage=stage, quiet=quiet, jobs=jobs, out=out, err=err)


def _run(git: Git, settings: Settings, only: list[str], tools: dict[str, Tool | None],
         sessions: dict[str, Session], errors: dict[str, LockfixError], *, dry_run: bool,
         stage: bool, quiet: bool, jobs: int | None, out: TextIO, err: TextIO) -> int:
    ws = plan_workspace(git, settings, only=only, tools=tools)
    todo = [p for p in ws.plans.values() if p.needs_work and p.left_alone is None]
    alone = [p for p in ws.plans.values() if p.needs_work and p.left_alone is not None]
    if not todo:
        if not quiet:
            print("lockfix: nothing to do" + ("." if alone else ": no conflicted or stale lock files."),
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

    missing = sorted({p.package.backend for p in todo if p.relock} - set(sessions))
    if missing:
        for name in missing:
            exc = errors.get(name) or LockfixError(f"{BY_NAME[name].label} not found")
            print(f"lockfix: {exc}", file=err)
        print("lockfix: nothing was changed.", file=err)
        return 1

    progress = Progress(len(todo), err, quiet=quiet)
    outcomes = execute(
        ws,
        sessions,
        settings,
        jobs=jobs or default_jobs(t for t in tools.values() if t is not None),
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
