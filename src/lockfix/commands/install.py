"""``lockfix install`` / ``uninstall`` / ``install --check``: register the merge driver.

git needs two things before it runs a custom driver: the command, in git config
(``merge.lockfix.*``), and attributes that route files to it. The config is per clone
(or global) and never committed. git reads merge attributes from the checked-out tree,
so the committed root ``.gitattributes`` (for teammates) routes only merges whose trees
carry it: merging main into a branch older than it, or rebasing a branch that adds it,
would bypass the driver. So a clone's install also writes ``$GIT_COMMON_DIR/info/attributes``
(``git rev-parse --git-path``: shared by every worktree, read whatever the trees say).
Install adds only what is missing and marks the attribute lines it adds, so uninstall
removes exactly those and nothing the user wrote.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lockfix import GIT_WORK_DIR, PYPROJECT
from lockfix.backends import LOCKFILES
from lockfix.git import Git

DRIVER = "lockfix"
#: Every file name routed to the driver: each backend's lock, then the manifest they
#: share; the one list (gitattributes.example matches it, a test checks).
ROUTED_FILES = (*LOCKFILES, PYPROJECT)
ATTRIBUTE_LINES = tuple(f"{name} merge={DRIVER}" for name in ROUTED_FILES)
MARK = "# added by `lockfix install`; `lockfix uninstall` removes the lines below it"
MARK_CREATED = MARK + " (and this file)"


def _git_version(git: Git) -> tuple[int, ...]:
    m = re.search(r"(\d+)\.(\d+)", git.run("--version"))
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def driver_command(git: Git) -> str:
    """The shell command git runs: an absolute interpreter, so it works where ``lockfix``
    is not on git's PATH (GUI clients, hooks), quoted for paths with spaces."""
    placeholders = "%O %A %B %L %P"
    if _git_version(git) >= (2, 44):  # labels of base, ours, theirs
        placeholders += " %S %X %Y"
    return f"{shlex.quote(sys.executable)} -m lockfix merge-driver {placeholders}"


@dataclass(frozen=True)
class Scope:
    config_args: tuple[str, ...]  # ("--local",) or ("--global",)
    attributes: tuple[Path, ...]  # the files install writes and uninstall cleans


def resolve_scope(git: Git, *, global_: bool, attributes_file: str) -> Scope:
    if global_:  # core.attributesFile applies to every checkout, whatever its tree
        configured = git.run("config", "--global", "--get", "core.attributesFile", check=False)
        if configured.strip():
            path = Path(os.path.expanduser(configured.strip()))
        else:
            xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
            path = Path(xdg) / "git" / "attributes"
        return Scope(("--global",), (path,))
    root = git.toplevel()
    info = git.git_path("info/attributes")  # where git reads it, also from a linked worktree
    if attributes_file == "info":
        return Scope(("--local",), (info,))
    return Scope(("--local",), (root / ".gitattributes", info))


def _config(git: Git, scope: Scope) -> dict[str, str]:
    out = git.run("config", *scope.config_args, "--get-regexp", rf"^merge\.{DRIVER}\.", check=False)
    result = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        result[key] = value
    return result


def wanted_config(git: Git) -> dict[str, str]:
    return {
        f"merge.{DRIVER}.name": "lockfix: merge pyproject.toml as TOML, regenerate poetry.lock / uv.lock",
        f"merge.{DRIVER}.driver": driver_command(git),
        # inner merges of several merge bases: keep one side whole, so the virtual base
        # is a valid lock/manifest rather than a file full of markers
        f"merge.{DRIVER}.recursive": "binary",
    }


def _missing_lines(text: str) -> list[str]:
    present = {" ".join(line.split()) for line in text.splitlines()}
    return [line for line in ATTRIBUTE_LINES if line not in present]


def install(git: Git, *, global_: bool, attributes_file: str, out: object = None) -> int:
    scope = resolve_scope(git, global_=global_, attributes_file=attributes_file)
    changed = []
    for key, value in wanted_config(git).items():
        if _config(git, scope).get(key) != value:
            git.run("config", *scope.config_args, key, value)
            changed.append(key)
    for path in scope.attributes:
        if _add_lines(path):
            changed.append(str(path))
    where = "globally" if global_ else "in this clone"
    if changed:
        print(f"lockfix: driver installed {where}; updated {', '.join(changed)}")
        if any(Path(c).name == ".gitattributes" for c in changed):
            print("lockfix: commit .gitattributes so that everyone's merges use it")
    else:
        print(f"lockfix: already installed {where}; nothing changed")
    return 0


def _add_lines(path: Path) -> bool:
    """Append the missing attribute lines to ``path`` under the mark; True if it changed."""
    text = path.read_text(encoding="utf-8") if path.exists() else None
    missing = _missing_lines(text or "")
    if not missing:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    block = "\n".join([MARK if text is not None else MARK_CREATED, *missing]) + "\n"
    if text and not text.endswith("\n"):
        block = "\n" + block.replace(MARK, MARK + " (after a final newline)", 1)
    path.write_text((text or "") + block, encoding="utf-8")
    return True


def uninstall(git: Git, *, global_: bool, attributes_file: str) -> int:
    scope = resolve_scope(git, global_=global_, attributes_file=attributes_file)
    removed = []
    if _config(git, scope):
        git.run("config", *scope.config_args, "--remove-section", f"merge.{DRIVER}")
        removed.append(f"merge.{DRIVER} config")
        if global_:
            _drop_if_empty(_global_config_file())
    for path in scope.attributes:
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        new = _strip_block(text)
        if new != text:
            if new is None:
                path.unlink()
            else:
                path.write_text(new, encoding="utf-8")
            removed.append(str(path))
    if not global_:  # what the driver made on first use: Poetry's venvs, a version cache
        work = git.git_dir() / GIT_WORK_DIR
        if work.is_dir():
            shutil.rmtree(work)
            removed.append(f"the driver's work directory {work}")
    print(f"lockfix: removed {', '.join(removed)}" if removed else "lockfix: was not installed")
    return 0


def _global_config_file() -> Path:
    """The file ``git config --global`` writes (git-config(1), FILES)."""
    if os.environ.get("GIT_CONFIG_GLOBAL"):
        return Path(os.environ["GIT_CONFIG_GLOBAL"])
    home = Path(os.path.expanduser("~")) / ".gitconfig"
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or Path(os.path.expanduser("~")) / ".config")
    return home if home.exists() or not (xdg / "git" / "config").exists() else xdg / "git" / "config"


def _drop_if_empty(path: Path) -> None:
    """``install --global`` on a machine without a global config created the file; removing
    the section leaves it empty, and git reads a missing file as an empty one."""
    if path.is_file() and path.stat().st_size == 0:
        path.unlink()


def _strip_block(text: str) -> str | None:
    """``text`` without the lines install added (None: install created the file)."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    created = False
    while i < len(lines):
        line = lines[i].rstrip("\n")
        if line.startswith(MARK):
            created |= line == MARK_CREATED
            if line.endswith("(after a final newline)") and out and out[-1].endswith("\n"):
                out[-1] = out[-1][:-1]
            i += 1
            while i < len(lines) and " ".join(lines[i].split()) in ATTRIBUTE_LINES:
                i += 1
            continue
        out.append(lines[i])
        i += 1
    result = "".join(out)
    return None if created and not result else result


def check(git: Git) -> int:
    """Exit 0 when every merge in this clone will use the driver; say what is missing if not.

    Routing must not depend on the checked-out tree (see the module docstring), so the
    attributes are asked for as they apply to a tree without any .gitattributes: an
    empty index read with ``--cached`` leaves info/attributes, core.attributesFile and
    the system file, the ones git applies whatever the trees say."""
    problems = []
    driver = git.run("config", "--get", f"merge.{DRIVER}.driver", check=False).strip()
    if not driver:
        problems.append(f"git config has no merge.{DRIVER}.driver (run `lockfix install`)")
    in_tree = _routed(git, cached=False)
    with tempfile.TemporaryDirectory(prefix="lockfix-") as tmp:
        anywhere = _routed(git, cached=True, env={"GIT_INDEX_FILE": os.path.join(tmp, "index")})
    for name in ROUTED_FILES:
        if anywhere.get(name):
            continue
        if in_tree.get(name):
            problems.append(f"{name} is routed to the driver only by the checked-out "
                            ".gitattributes: merges with commits that lack it bypass the "
                            "driver (run `lockfix install`)")
        else:
            problems.append(f"{name} is not routed to the driver (run `lockfix install`)")
    if problems:
        for p in problems:
            print(f"lockfix: not set up: {p}")
        return 1
    print(f"lockfix: set up: {driver}")
    return 0


def _routed(git: Git, *, cached: bool, env: dict[str, str] | None = None) -> dict[str, bool]:
    """Routed file name -> whether ``git check-attr`` says ``merge: lockfix`` for it."""
    found = git.merge_attributes(ROUTED_FILES, cached=cached, env=env)
    return {path: value == DRIVER for path, value in found.items()}
