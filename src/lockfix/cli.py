"""Command-line parsing only: each command's work lives in ``lockfix.commands``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lockfix import __version__
from lockfix.errors import LockfixError
from lockfix.policies import LOCK_POLICIES, MANIFEST_POLICIES


class _Group(click.Group):
    """Turn lockfix errors into one message and exit 1; usage errors stay click's (exit 2)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except LockfixError as exc:
            click.echo(f"lockfix: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lockfix")
def main() -> None:
    """Resolve lock-file merge conflicts (Poetry, uv) by re-locking, not by merging text.

    \b
    lockfix demo          see it work on a throw-away monorepo (offline, ~1 minute)
    lockfix install       register the git merge driver for this clone (once)
    lockfix run           fix conflicted or stale pyproject.toml / poetry.lock / uv.lock now
    lockfix check         report conflict markers, stale locks, path-dependency drift (CI)
    lockfix uninstall     remove exactly what install added

    With the driver installed, git merge / pull / rebase / cherry-pick finish with a
    merged pyproject.toml and a freshly regenerated poetry.lock or uv.lock. Set
    LOCKFIX_DEBUG=1 for a trace, LOCKFIX_DISABLE=1 to run one git command without
    lockfix; LOCKFIX_POETRY and LOCKFIX_UV pick the executables. Poetry is started once
    and shared by all relocks of a command; LOCKFIX_POETRY_SERVER=0 runs one `poetry
    lock` each.
    """


@main.command("run")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--dry-run", is_flag=True, help="Show what would be fixed; change nothing.")
@click.option("--no-stage", is_flag=True, help="Do not `git add` the fixed files.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Packages relocked in parallel (default: per core one for Poetry, two for "
                   "uv; at least 2).")
@click.option("--manifest-policy", type=click.Choice(MANIFEST_POLICIES), default=None,
              help="When both sides changed the same pyproject.toml value differently: "
                   "newer (default: a dependency constraint starting at the newer version "
                   "wins, anything else theirs), theirs (incoming), ours, or fail.")
@click.option("--lock-policy", type=click.Choice(LOCK_POLICIES), default=None,
              help="When both sides locked the same package differently: keep the higher "
                   "version the merged constraints allow, else drop it (default); drop it so "
                   "Poetry re-resolves it; the higher version; ours or theirs.")
@click.option("--timeout", type=click.FloatRange(min=1), default=None,
              help="Seconds one relock (Poetry or uv) may take (default 600).")
@click.option("--poetry", "poetry", metavar="PATH", default=None,
              help="Poetry executable (default: $LOCKFIX_POETRY, then PATH).")
@click.option("--uv", "uv", metavar="PATH", default=None,
              help="uv executable (default: $LOCKFIX_UV, then PATH).")
@click.option("-q", "--quiet", is_flag=True, help="Print only problems.")
def run_command(paths: tuple[str, ...], dry_run: bool, no_stage: bool, jobs: int | None,
                manifest_policy: str | None, lock_policy: str | None, timeout: float | None,
                poetry: str | None, uv: str | None, quiet: bool) -> None:
    """Fix conflicted or stale lock files (poetry.lock, uv.lock) in this repository (or
    under PATHS).

    After a merge, rebase or cherry-pick stopped on pyproject.toml / poetry.lock /
    uv.lock conflicts, lockfix takes the three sides from git, merges pyproject.toml at
    the TOML level, merges the locks package by package into a preferred lock, and lets
    Poetry (`poetry lock`) or uv (`uv lock`) relock without upgrading anything else. It
    also repairs locks committed with conflict markers and locks that no longer match
    their pyproject.toml. In a monorepo, packages are relocked after the packages they
    depend on by path (a uv workspace once, at its root), independent ones in parallel,
    all through one started Poetry.

    \b
    Exit status: 0 all fixed (or nothing to do), 1 something could not be fixed
    (its files are left exactly as they were), 2 usage error.
    """
    from lockfix.commands.run import run

    flags = {"manifest_policy": manifest_policy, "lock_policy": lock_policy,
             "timeout": timeout, "poetry": poetry, "uv": uv}
    sys.exit(run(paths, cwd=Path.cwd(), flags=flags, jobs=jobs, dry_run=dry_run,
                 stage=not no_stage, quiet=quiet))


_ATTRIBUTES_HELP = ("Where the attribute lines go: the committed root .gitattributes plus the "
                    "clone's info/attributes (default), or only the clone's info/attributes "
                    "(nothing to commit).")


@main.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github", "sarif"]),
              default="text", show_default=True,
              help="text (grouped, with the fix), json (schema in lockfix.commands.check), "
                   "github (workflow annotations) or sarif.")
@click.option("--lockfiles-only", is_flag=True,
              help="Scan only pyproject.toml, poetry.lock and uv.lock for conflict markers.")
@click.option("--strict", is_flag=True, help="Fail on warnings (a missing lock) too.")
def check_command(paths: tuple[str, ...], fmt: str, lockfiles_only: bool, strict: bool) -> None:
    """Check the repository (or PATHS) for broken lock state; change nothing.

    Finds conflict markers in tracked files, pyproject.toml / poetry.lock / uv.lock that
    do not parse, stale locks (Poetry: content-hash, as `poetry check --lock`; uv: the
    recorded project, workspace members and path dependencies, as `uv lock --check`),
    locks whose record of a path dependency no longer matches its pyproject.toml, and
    Poetry or uv projects without a lock. Needs neither Poetry, uv nor network: made for
    CI and pre-commit.

    \b
    Exit status: 0 clean, 1 problems found, 2 usage or internal error.
    """
    from lockfix.commands.check import check

    sys.exit(check(paths, cwd=Path.cwd(), fmt=fmt, lockfiles_only=lockfiles_only, strict=strict))


@main.command("install")
@click.option("--global", "global_", is_flag=True,
              help="Register in your global git config and global attributes file instead.")
@click.option("--attributes-file", type=click.Choice(["gitattributes", "info"]),
              default="gitattributes", show_default=True, help=_ATTRIBUTES_HELP)
@click.option("--check", "check_only", is_flag=True,
              help="Change nothing; exit 0 if merges here will use lockfix, 1 if not.")
def install_command(global_: bool, attributes_file: str, check_only: bool) -> None:
    """Register lockfix as git's merge driver for poetry.lock, uv.lock and pyproject.toml.

    Sets merge.lockfix.{name,driver,recursive} in git config (with an absolute path to
    this Python, so it works where lockfix is not on PATH) and adds the attribute lines
    if they are missing. Running it twice changes nothing.
    """
    from lockfix.commands import install
    from lockfix.git import Git

    git = Git(Path.cwd())
    if check_only:
        sys.exit(install.check(git))
    sys.exit(install.install(git, global_=global_, attributes_file=attributes_file))


@main.command("uninstall")
@click.option("--global", "global_", is_flag=True, help="Undo `install --global`.")
@click.option("--attributes-file", type=click.Choice(["gitattributes", "info"]),
              default="gitattributes", show_default=True, help=_ATTRIBUTES_HELP)
def uninstall_command(global_: bool, attributes_file: str) -> None:
    """Remove the driver config and exactly the attribute lines install added.

    Also deletes the driver's work directory (.git/lockfix: Poetry's venvs for the
    driver and a cached Poetry version), which the driver creates on first use.
    """
    from lockfix.commands import install
    from lockfix.git import Git

    sys.exit(install.uninstall(Git(Path.cwd()), global_=global_, attributes_file=attributes_file))


@main.command("merge-driver", hidden=False)
@click.argument("base", type=click.Path(path_type=Path))
@click.argument("ours", type=click.Path(path_type=Path))
@click.argument("theirs", type=click.Path(path_type=Path))
@click.argument("marker_size", type=int)
@click.argument("path")
@click.argument("labels", nargs=-1)
@click.option("--manifest-policy", type=click.Choice(MANIFEST_POLICIES), default=None,
              help="Override [tool.lockfix] manifest-policy.")
@click.option("--lock-policy", type=click.Choice(LOCK_POLICIES), default=None,
              help="Override [tool.lockfix] lock-policy.")
def merge_driver_command(base: Path, ours: Path, theirs: Path, marker_size: int, path: str,
                         labels: tuple[str, ...], manifest_policy: str | None,
                         lock_policy: str | None) -> None:
    """Run by git, not by you: BASE OURS THEIRS MARKER_SIZE PATH [LABELS...] are git's
    %O %A %B %L %P [%S %X %Y]. Writes the result into OURS; exit 0 merged, 1 conflict
    (standard markers left, as plain git would)."""
    from lockfix.commands.merge_driver import DriverArgs, _label, run_driver

    padded = (*labels, None, None, None)[:3]
    args = DriverArgs(base, ours, theirs, marker_size, path,
                      (_label(padded[0], "%S"), _label(padded[1], "%X"), _label(padded[2], "%Y")))
    flags = {"manifest_policy": manifest_policy, "lock_policy": lock_policy}
    from lockfix.batch import take

    taken = take(str(base), str(ours), str(theirs), path, flags)
    if taken is not None and "text" in taken:
        sys.exit(0)
    sys.exit(run_driver(args, flags, taken=taken))


@main.command("demo")
@click.option("--keep", is_flag=True, help="Keep the demo directory instead of deleting it.")
@click.option("--manager", type=click.Choice(["poetry", "uv"]), default="poetry",
              show_default=True,
              help="Tell the story with Poetry (a monorepo of locked packages linked by "
                   "path) or uv (a workspace with one lock).")
@click.option("--poetry", "poetry", metavar="PATH", default=None,
              help="Poetry executable (default: $LOCKFIX_POETRY, then PATH).")
@click.option("--uv", "uv", metavar="PATH", default=None,
              help="uv executable (default: $LOCKFIX_UV, then PATH).")
def demo_command(keep: bool, manager: str, poetry: str | None, uv: str | None) -> None:
    """Show plain git's lock conflicts, then the same merge finishing with lockfix.

    Everything happens in a temp directory against a package index served on 127.0.0.1:
    no network, nothing touched outside that directory.
    """
    from lockfix.commands.demo import demo

    sys.exit(demo(keep=keep, manager=manager, executable=poetry if manager == "poetry" else uv))
