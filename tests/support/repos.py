"""Real git repositories holding real Poetry projects, for the end-to-end tests.

Everything here drives the real ``git`` and the real ``poetry`` (a
:class:`~tests.support.poetry.PoetryExe`) against the test's own
:class:`~lockfix.localindex.PackageIndex`; nothing is faked.

    repo = single_project(tmp_path, poetry, index, deps={"requests": "^2.30"})
    repo.checkout("feature-a", create=True)
    add_dependency(repo, ".", "click", "^8.1", poetry, commit="add click")
    repo.checkout("main")
    add_dependency(repo, ".", "attrs", "^23.1", poetry, commit="add attrs")
    proc = repo.merge("feature-a")            # conflicts in pyproject.toml and poetry.lock
    assert repo.unmerged() == ["poetry.lock", "pyproject.toml"]

Projects are written the way people write them: ``[tool.poetry]`` metadata (or PEP 621
``[project]`` for Poetry 2.x), one dependency per line, a module directory named in
``packages``, the test index as the only (``primary``) source so no request can go to
PyPI, and a ``poetry-core`` build system.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import tomlkit

from lockfix.localindex import PackageIndex
from tests.support.poetry import PoetryExe

Style = Literal["poetry", "pep621"]
Constraint = Union[str, Mapping[str, Any]]

AUTHOR_NAME = "Test"
AUTHOR_EMAIL = "test@example.invalid"
SOURCE_NAME = "local"

#: Package directories of the standard monorepo (see :func:`monorepo`).
CORE = "packages/core"
API_GATEWAY = "packages/api-gateway"
BACKGROUND_WORKER = "packages/background-worker"


# ---------------------------------------------------------------------------------------
# pyproject.toml text


def module_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _toml_value(value: Constraint) -> str:
    if isinstance(value, str):
        return tomlkit.string(value).as_string()
    items = ", ".join(f"{k} = {tomlkit.item(v).as_string()}" for k, v in value.items())
    return "{ " + items + " }"


def _bump(parts: list[int], at: int) -> str:
    upper = [*parts[:at], parts[at] + 1]
    return ".".join(map(str, upper + [0] * max(0, 2 - len(upper))))


def pep508(name: str, constraint: str) -> str:
    """A Poetry constraint (``^2.30``, ``~1.2``, ``*``, ``>=1,<2``, ``1.0``) as PEP 508."""
    c = constraint.strip()
    if c in ("", "*"):
        return name
    m = re.fullmatch(r"([\^~])\s*(\d+(?:\.\d+)*)", c)
    if m:
        parts = [int(x) for x in m.group(2).split(".")]
        if m.group(1) == "^":
            at = next((i for i, p in enumerate(parts) if p != 0), len(parts) - 1)
        else:
            at = len(parts) - 2 if len(parts) > 1 else 0
        return f"{name} (>={m.group(2)},<{_bump(parts, at)})"
    if re.fullmatch(r"\d+(?:\.\d+)*", c):
        return f"{name} (=={c})"
    return f"{name} ({c})"


def pyproject_text(
    name: str,
    deps: Mapping[str, str],
    *,
    index_url: str,
    path_deps: Mapping[str, str] | None = None,
    dev_deps: Mapping[str, str] | None = None,
    python: str = ">=3.9",
    style: Style = "poetry",
    version: str = "0.1.0",
) -> str:
    """A realistic Poetry project file.

    ``deps`` are Poetry constraints (``{"requests": "^2.30"}``); ``path_deps`` map a
    package name to a relative directory (rendered ``{ path = "../core", develop = true }``);
    ``dev_deps`` go into ``[tool.poetry.group.dev.dependencies]``. ``style="pep621"``
    (Poetry 2.x only) puts metadata and ``deps`` into ``[project]`` and keeps path
    dependencies, packages and groups in ``[tool.poetry]``, as Poetry 2 documents it.
    """
    path_deps = dict(path_deps or {})
    module = module_name(name)
    description = f"The {name} package of the lockfix test bed"
    out: list[str] = []
    if style == "poetry":
        out += [
            "[tool.poetry]",
            f'name = "{name}"',
            f'version = "{version}"',
            f'description = "{description}"',
            f'authors = ["{AUTHOR_NAME} <{AUTHOR_EMAIL}>"]',
            f'packages = [{{ include = "{module}" }}]',
            "",
            "[tool.poetry.dependencies]",
            f"python = {_toml_value(python)}",
        ]
        out += [f"{dep} = {_toml_value(c)}" for dep, c in deps.items()]
        out += [
            f"{dep} = {_toml_value({'path': p, 'develop': True})}" for dep, p in path_deps.items()
        ]
    elif style == "pep621":
        out += [
            "[project]",
            f'name = "{name}"',
            f'version = "{version}"',
            f'description = "{description}"',
            f'authors = [{{ name = "{AUTHOR_NAME}", email = "{AUTHOR_EMAIL}" }}]',
            f"requires-python = {_toml_value(python)}",
            "dependencies = [",
        ]
        out += [f"    {_toml_value(pep508(dep, c))}," for dep, c in deps.items()]
        out += [f'    "{dep}",' for dep in path_deps]
        out += ["]", "", "[tool.poetry]", f'packages = [{{ include = "{module}" }}]']
        if path_deps:
            out += ["", "[tool.poetry.dependencies]"]
            out += [
                f"{dep} = {_toml_value({'path': p, 'develop': True})}"
                for dep, p in path_deps.items()
            ]
    else:
        raise ValueError(f"unknown style {style!r}")
    if dev_deps:
        out += ["", "[tool.poetry.group.dev.dependencies]"]
        out += [f"{dep} = {_toml_value(c)}" for dep, c in dev_deps.items()]
    out += [
        "",
        "[[tool.poetry.source]]",
        f'name = "{SOURCE_NAME}"',
        f"url = {_toml_value(index_url)}",
        'priority = "primary"',
        "",
        "[build-system]",
        'requires = ["poetry-core>=1.0.0"]',
        'build-backend = "poetry.core.masonry.api"',
    ]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------
# git


@dataclass
class GitRepo:
    """A real repository in a temp dir; every command runs the real ``git``."""

    path: Path
    env: dict[str, str]
    #: project name -> package directory relative to the root ("." for a root project)
    projects: dict[str, str] = field(default_factory=dict)

    @classmethod
    def init(cls, path: Path, env: Mapping[str, str]) -> GitRepo:
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path=path, env=dict(env))
        repo.git("init", "-q")
        return repo

    def git(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            input=input,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"git {' '.join(args)} failed ({proc.returncode}) in {self.path}:\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        return proc

    # files
    def file(self, relpath: str | Path) -> Path:
        return self.path / relpath

    def write(self, relpath: str | Path, text: str) -> Path:
        target = self.path / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def read(self, relpath: str | Path) -> str:
        return (self.path / relpath).read_text()

    def exists(self, relpath: str | Path) -> bool:
        return (self.path / relpath).exists()

    def show(self, rev: str, relpath: str | Path) -> str:
        """The file as committed at ``rev`` (``git show rev:path``)."""
        return self.git("show", f"{rev}:{Path(relpath).as_posix()}").stdout

    def stage(self, n: int, relpath: str | Path) -> str:
        """Stage ``n`` (1 base, 2 ours, 3 theirs) of a conflicted path (``git show :n:path``)."""
        return self.git("show", f":{n}:{Path(relpath).as_posix()}").stdout

    # history
    def commit_all(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self, rev: str = "HEAD") -> str:
        return self.git("rev-parse", "--verify", rev).stdout.strip()

    def branch(self, name: str, start: str = "HEAD") -> None:
        """Create a branch without switching to it."""
        self.git("branch", name, start)

    def checkout(self, name: str, *, create: bool = False) -> None:
        self.git("checkout", "-q", *(["-b"] if create else []), name)

    def current_branch(self) -> str:
        return self.git("symbolic-ref", "--short", "HEAD").stdout.strip()

    def merge(
        self, branch: str, *, check: bool = False, args: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        """``git merge --no-edit <branch>``; does not raise on conflicts unless ``check``."""
        return self.git("merge", "--no-edit", *args, branch, check=check)

    # state
    def unmerged(self) -> list[str]:
        """Paths with conflict stages in the index, sorted."""
        out = self.git("diff", "--name-only", "--diff-filter=U").stdout
        return sorted(line for line in out.splitlines() if line)

    def status(self) -> str:
        return self.git("status", "--porcelain").stdout

    def is_clean(self) -> bool:
        return self.status() == ""

    def has_conflict_markers(self, relpath: str | Path) -> bool:
        return bool(
            re.search(r"^(<{7}|={7}|>{7}|\|{7})( |$)", self.read(relpath), flags=re.MULTILINE)
        )


def _fresh_dir(base: Path, stem: str) -> Path:
    path = base / stem
    n = 2
    while path.exists():
        path = base / f"{stem}-{n}"
        n += 1
    return path


def _index_url(index: PackageIndex | str) -> str:
    return index if isinstance(index, str) else index.url


# ---------------------------------------------------------------------------------------
# projects and repositories


def write_project(
    repo: GitRepo,
    pkg_dir: str,
    name: str,
    deps: Mapping[str, str],
    *,
    index: PackageIndex | str,
    path_deps: Mapping[str, str] | None = None,
    dev_deps: Mapping[str, str] | None = None,
    python: str = ">=3.9",
    style: Style = "poetry",
) -> None:
    """Write ``pyproject.toml`` and the module directory (no lock) at ``pkg_dir``."""
    repo.write(
        Path(pkg_dir) / "pyproject.toml",
        pyproject_text(
            name,
            deps,
            index_url=_index_url(index),
            path_deps=path_deps,
            dev_deps=dev_deps,
            python=python,
            style=style,
        ),
    )
    module = module_name(name)
    repo.write(Path(pkg_dir) / module / "__init__.py", f'"""{name}."""\n')
    repo.projects[name] = pkg_dir


class RepoCache:
    """Session-wide templates of factory-made repositories.

    Creating a repository means one real ``poetry lock`` per package (~1-1.5 s each).
    Poetry's output is a pure function of its inputs: the Poetry executable, the project
    files, the index URL and what the index serves. With the conftest's session-stable
    index port, two tests asking for the same repository get byte-identical files, so
    the second one receives a copy (``.git`` included) of what real Poetry produced for
    the first. Any difference in the inputs (another universe, a version published
    before creation, another port) is a different key, hence a fresh creation.
    On a hit, the index sees no requests for the creation.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._entries: dict[str, tuple[Path, dict[str, str]]] = {}
        self.hits = 0
        self.misses = 0

    def get_or_create(
        self,
        key: tuple[object, ...],
        dest: Path,
        env: Mapping[str, str],
        create: Callable[[Path], GitRepo],
    ) -> GitRepo:
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:20]
        entry = self._entries.get(digest)
        if entry is not None:
            self.hits += 1
            template, projects = entry
            shutil.copytree(template, dest, symlinks=True)
            return GitRepo(path=dest, env=dict(env), projects=dict(projects))
        self.misses += 1
        repo = create(dest)
        template = self.root / digest
        shutil.copytree(dest, template, symlinks=True)
        self._entries[digest] = (template, dict(repo.projects))
        return repo


def _cache_key(
    factory: str, poetry: PoetryExe, index: PackageIndex | str, **args: Any
) -> tuple[object, ...] | None:
    if isinstance(index, str):
        return None  # cannot tell what a foreign index serves
    frozen = tuple(
        sorted(
            (k, tuple(sorted(v.items())) if isinstance(v, Mapping) else v) for k, v in args.items()
        )
    )
    settings = tuple(
        sorted(
            (k, v)
            for k, v in poetry.env.items()
            if k.startswith("POETRY_") and not k.endswith(("_DIR", "_PATH"))
        )
    )
    return (
        factory,
        str(poetry.path),
        poetry.version,
        settings,
        index.url,
        index.fingerprint(),
        frozen,
    )


def _require_style(style: Style, poetry: PoetryExe) -> None:
    if style == "pep621" and poetry.major < 2:
        raise ValueError(f"{poetry.label} cannot lock PEP 621 [project] dependencies")


def _created(
    key: tuple[object, ...] | None,
    cache: RepoCache | None,
    dest: Path,
    poetry: PoetryExe,
    create: Callable[[Path], GitRepo],
) -> GitRepo:
    if cache is None or key is None:
        return create(dest)
    return cache.get_or_create(key, dest, poetry.env, create)


def single_project(
    tmp_path: Path,
    poetry: PoetryExe,
    index: PackageIndex | str,
    deps: Mapping[str, str] | None = None,
    *,
    name: str = "app",
    dev_deps: Mapping[str, str] | None = None,
    python: str = ">=3.9",
    style: Style = "poetry",
    cache: RepoCache | None = None,
) -> GitRepo:
    """A repository with one project at its root, locked by real Poetry, committed on main.

    ``deps`` defaults to ``{"requests": "^2.30"}``. With ``cache`` an identical earlier
    creation may be copied instead (see :class:`RepoCache`)."""
    _require_style(style, poetry)
    deps = {"requests": "^2.30"} if deps is None else dict(deps)

    def create(dest: Path) -> GitRepo:
        repo = GitRepo.init(dest, poetry.env)
        repo.write(".gitignore", "__pycache__/\n.venv/\n")
        write_project(
            repo, ".", name, deps, index=index, dev_deps=dev_deps, python=python, style=style
        )
        poetry.lock(repo.path)
        repo.commit_all("initial project")
        return repo

    key = _cache_key(
        "single_project",
        poetry,
        index,
        deps=deps,
        name=name,
        dev_deps=dev_deps or {},
        python=python,
        style=style,
    )
    return _created(key, cache, _fresh_dir(tmp_path, "repo"), poetry, create)


def monorepo(
    tmp_path: Path,
    poetry: PoetryExe,
    index: PackageIndex | str,
    *,
    style: Style = "poetry",
    python: str = ">=3.9",
    cache: RepoCache | None = None,
) -> GitRepo:
    """``packages/core`` (requests), ``packages/api-gateway`` (core + fastapi) and
    ``packages/background-worker`` (core + celery), each locked by real Poetry in
    dependency order, committed on main."""
    _require_style(style, poetry)

    def create(dest: Path) -> GitRepo:
        repo = GitRepo.init(dest, poetry.env)
        repo.write(".gitignore", "__pycache__/\n.venv/\n")
        repo.write("README.md", "# monorepo\n")
        common: dict[str, Any] = {"index": index, "style": style, "python": python}
        core = {"core": "../core"}
        write_project(repo, CORE, "core", {"requests": "^2.30"}, **common)
        write_project(
            repo, API_GATEWAY, "api-gateway", {"fastapi": "^0.104"}, path_deps=core, **common
        )
        write_project(
            repo,
            BACKGROUND_WORKER,
            "background-worker",
            {"celery": "^5.3"},
            path_deps=core,
            **common,
        )
        for pkg_dir in lock_order(repo):
            poetry.lock(repo.path / pkg_dir)
        repo.commit_all("initial monorepo")
        return repo

    key = _cache_key("monorepo", poetry, index, style=style, python=python)
    return _created(key, cache, _fresh_dir(tmp_path, "monorepo"), poetry, create)


# ---------------------------------------------------------------------------------------
# the path-dependency graph


def _load(path: Path) -> dict[str, Any]:
    return tomlkit.parse(path.read_text()).unwrap()


def path_dependencies(repo: GitRepo, pkg_dir: str) -> list[str]:
    """Package dirs (relative to the repo root, posix) that ``pkg_dir`` path-depends on."""
    data = _load(repo.path / pkg_dir / "pyproject.toml")
    poetry = data.get("tool", {}).get("poetry", {})
    tables = [poetry.get("dependencies", {}), poetry.get("dev-dependencies", {})]
    tables += [g.get("dependencies", {}) for g in poetry.get("group", {}).values()]
    out: list[str] = []
    root = repo.path.resolve()
    for table in tables:
        for spec in table.values():
            specs = spec if isinstance(spec, list) else [spec]
            for s in specs:
                if isinstance(s, dict) and "path" in s:
                    target = (repo.path / pkg_dir / s["path"]).resolve()
                    if (target / "pyproject.toml").is_file():
                        out.append(target.relative_to(root).as_posix() or ".")
    return out


def package_dirs(repo: GitRepo) -> list[str]:
    """Every directory holding a pyproject.toml, relative to the root, sorted."""
    found = [
        p.parent.relative_to(repo.path).as_posix() or "."
        for p in repo.path.rglob("pyproject.toml")
        if ".git" not in p.relative_to(repo.path).parts
    ]
    return sorted(found)


def lock_order(repo: GitRepo, only: Iterable[str] | None = None) -> list[str]:
    """Package dirs in dependency order (dependencies first); ``only`` restricts the output."""
    dirs = package_dirs(repo)
    graph = {d: path_dependencies(repo, d) for d in dirs}
    order: list[str] = []
    seen: set[str] = set()

    def visit(d: str, stack: tuple[str, ...]) -> None:
        if d in seen:
            return
        if d in stack:
            raise ValueError(f"path-dependency cycle: {' -> '.join((*stack, d))}")
        for dep in graph.get(d, []):
            visit(dep, (*stack, d))
        seen.add(d)
        order.append(d)

    for d in dirs:
        visit(d, ())
    wanted = set(only) if only is not None else None
    return [d for d in order if wanted is None or d in wanted]


def dependents(repo: GitRepo, pkg_dir: str) -> list[str]:
    """Packages reaching ``pkg_dir`` through path dependencies (transitively), in lock order."""
    target = Path(pkg_dir).as_posix()
    dirs = package_dirs(repo)
    graph = {d: path_dependencies(repo, d) for d in dirs}
    reached: set[str] = set()
    frontier = [target]
    while frontier:
        cur = frontier.pop()
        for d, deps in graph.items():
            if cur in deps and d not in reached:
                reached.add(d)
                frontier.append(d)
    return lock_order(repo, only=reached)


# ---------------------------------------------------------------------------------------
# what developers do on a branch


def _deps_table_span(lines: list[str], header: str) -> tuple[int, int] | None:
    """(index of the header line, index after the table's last non-blank line)."""
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == header)
    except StopIteration:
        return None
    end = start + 1
    for i in range(start + 1, len(lines)):
        stripped = lines[i].strip()
        if stripped.startswith("["):
            break
        if stripped and not stripped.startswith("#"):
            end = i + 1
    return start, end


def _pep621_array_span(lines: list[str]) -> tuple[int, int]:
    """(index of ``dependencies = [``, index of its closing ``]``) inside ``[project]``."""
    in_project = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("["):
            in_project = stripped == "[project]"
        elif in_project and re.match(r"dependencies\s*=\s*\[\s*$", stripped):
            close = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "]")
            return i, close
    raise ValueError("no multi-line [project] dependencies array")


def _dep_name(line: str) -> str | None:
    m = re.match(r'\s*"?([A-Za-z0-9][A-Za-z0-9._-]*)', line)
    return re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else None


def set_dependency_text(
    text: str, name: str, constraint: Constraint | None, *, group: str | None = None
) -> str:
    """Edit pyproject text the way a developer (or ``poetry add``) does.

    Replaces the dependency's line when it exists, otherwise inserts it on the line after
    the last dependency of the table (so two branches adding different packages touch
    adjacent lines). ``constraint=None`` removes the line. ``group`` targets
    ``[tool.poetry.group.<group>.dependencies]`` (created at the end when missing).
    """
    lines = text.splitlines()
    key = re.sub(r"[-_.]+", "-", name).lower()
    pep621 = group is None and any(line.strip() == "[project]" for line in lines)
    if pep621:
        start, end = _pep621_array_span(lines)
        first = start + 1
        new = None if constraint is None else f"    {_toml_value(pep508(name, _str(constraint)))},"
    else:
        header = (
            "[tool.poetry.dependencies]"
            if group is None
            else f"[tool.poetry.group.{group}.dependencies]"
        )
        span = _deps_table_span(lines, header)
        if span is None:
            if constraint is None:
                return text
            lines += ["", header]
            span = (len(lines) - 1, len(lines))
        start, end = span
        first = start + 1
        new = None if constraint is None else f"{name} = {_toml_value(constraint)}"
    for i in range(first, end):
        if _dep_name(lines[i]) == key and not lines[i].lstrip().startswith("#"):
            if new is None:
                del lines[i]
            elif pep621:
                lines[i] = new
            else:  # keep the key as the developer spelled it
                lines[i] = lines[i].split("=", 1)[0].rstrip() + new[len(name) :]
            break
    else:
        if new is None:
            raise ValueError(f"{name} is not a dependency")
        lines.insert(end, new)
    return "\n".join(lines) + "\n"


def _str(constraint: Constraint) -> str:
    if not isinstance(constraint, str):
        raise ValueError("PEP 621 dependencies take a string constraint")
    return constraint


def relock(
    repo: GitRepo, pkg_dir: str, poetry: PoetryExe, *, with_dependents: bool = True
) -> list[str]:
    """Relock ``pkg_dir`` without upgrading, then (by default) every package that reaches it
    through path dependencies, in dependency order. Returns the dirs relocked."""
    dirs = [Path(pkg_dir).as_posix()]
    if with_dependents:
        dirs += dependents(repo, pkg_dir)
    for d in dirs:
        poetry.lock(repo.path / d)
    return dirs


def add_dependency(
    repo: GitRepo,
    pkg_dir: str,
    name: str,
    constraint: Constraint,
    poetry: PoetryExe,
    *,
    group: str | None = None,
    commit: str | None = None,
) -> None:
    """Add (or re-constrain) a dependency in ``pkg_dir`` and relock with real Poetry
    (1.8 ``lock --no-update``, 2.x ``lock``), then relock its dependents.
    ``commit`` commits everything with that message."""
    pyproject = Path(pkg_dir) / "pyproject.toml"
    repo.write(pyproject, set_dependency_text(repo.read(pyproject), name, constraint, group=group))
    relock(repo, pkg_dir, poetry)
    if commit is not None:
        repo.commit_all(commit)


def remove_dependency(
    repo: GitRepo,
    pkg_dir: str,
    name: str,
    poetry: PoetryExe,
    *,
    group: str | None = None,
    commit: str | None = None,
) -> None:
    """Remove a dependency line from ``pkg_dir`` and relock (with dependents)."""
    pyproject = Path(pkg_dir) / "pyproject.toml"
    repo.write(pyproject, set_dependency_text(repo.read(pyproject), name, None, group=group))
    relock(repo, pkg_dir, poetry)
    if commit is not None:
        repo.commit_all(commit)


def update_dependency(
    repo: GitRepo, pkg_dir: str, name: str, poetry: PoetryExe, *, commit: str | None = None
) -> None:
    """``poetry update --lock <name>`` in ``pkg_dir``: upgrade one locked package to the
    newest version its constraints allow, lock only (nothing installed). pyproject.toml
    is unchanged, so dependents' locks stay valid and are not touched."""
    poetry.run(["update", "--lock", name], repo.path / pkg_dir)
    if commit is not None:
        repo.commit_all(commit)


# ---------------------------------------------------------------------------------------
# reading locks


def read_lock(path: Path | str) -> dict[str, Any]:
    """A poetry.lock as plain data."""
    return tomlkit.parse(Path(path).read_text()).unwrap()


def locked_versions(path: Path | str) -> dict[str, str]:
    """``{normalized name: version}`` of every ``[[package]]`` in a poetry.lock."""
    return {
        re.sub(r"[-_.]+", "-", p["name"]).lower(): p["version"]
        for p in read_lock(path).get("package", [])
    }


def locked_package(path: Path | str, name: str) -> dict[str, Any]:
    key = re.sub(r"[-_.]+", "-", name).lower()
    for p in read_lock(path).get("package", []):
        if re.sub(r"[-_.]+", "-", p["name"]).lower() == key:
            return dict(p)
    raise KeyError(f"{name} not in {path}")


def diverge(
    repo: GitRepo,
    poetry: PoetryExe,
    ours: tuple[str, str] = ("attrs", "^23.1"),
    theirs: tuple[str, str] = ("click", "^8.1"),
) -> None:
    """``main`` adds ``ours``, a new branch ``feature`` adds ``theirs`` (name, constraint),
    each relocked by real Poetry and committed; ends on ``main``. Both add on the line
    after the last dependency, so a line merge of pyproject.toml conflicts."""
    diverge_packages(repo, poetry, [(".", *ours)], [(".", *theirs)])


def diverge_packages(
    repo: GitRepo,
    poetry: PoetryExe,
    ours: Sequence[tuple[str, str, Constraint]],
    theirs: Sequence[tuple[str, str, Constraint]],
    *,
    end: str = "main",
) -> None:
    """``main`` adds ``ours``, a new branch ``feature`` adds ``theirs`` ((package dir, name,
    constraint) each, relocked with its dependents by real Poetry and committed one by
    one); ends on ``end``."""
    repo.branch("feature")
    for branch, changes in (("main", ours), ("feature", theirs)):
        repo.checkout(branch)
        for pkg_dir, name, constraint in changes:
            add_dependency(repo, pkg_dir, name, constraint, poetry, commit=f"add {name}")
    repo.checkout(end)


def diverge_with_broken_theirs(repo: GitRepo, poetry: PoetryExe) -> None:
    """``main`` adds attrs (relocked); ``feature`` commits a pyproject.toml that is not
    valid TOML (an unterminated string on the line after requests); ends on ``main``."""
    repo.branch("feature")
    add_dependency(repo, ".", "attrs", "^23.1", poetry, commit="add attrs")
    repo.checkout("feature")
    repo.write("pyproject.toml", repo.read("pyproject.toml").replace(
        'requests = "^2.30"', 'requests = "^2.30"\nrich = "^13'))
    repo.commit_all("broken edit")
    repo.checkout("main")
