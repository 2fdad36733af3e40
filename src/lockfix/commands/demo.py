"""``lockfix demo``: the whole story on a throw-away monorepo, offline, in under a minute.

Builds ``packages/core``, ``packages/api-gateway`` and ``packages/background-worker``
(the last two depend on core by path, ``develop = true``) against a package index served
on 127.0.0.1, makes two branches that both change dependencies, and merges them twice:
once with plain git (conflicts), once with lockfix's driver installed (clean, fresh
locks). Everything lives in one temp directory, Poetry's cache and config included.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from lockfix.backends.poetry.lock import canonical_name, parse_lock
from lockfix.backends.poetry.tool import Poetry, find_poetry, relock_args
from lockfix.localindex import DEFAULT_UNIVERSE, PackageIndex

CORE, GATEWAY, WORKER = "packages/core", "packages/api-gateway", "packages/background-worker"
PACKAGES: dict[str, tuple[str, dict[str, str]]] = {
    CORE: ("core", {"requests": "^2.30"}),
    GATEWAY: ("api-gateway", {"fastapi": "^0.104"}),
    WORKER: ("background-worker", {"celery": "^5.3"}),
}
DEPENDS_ON_CORE = (GATEWAY, WORKER)
#: what each branch adds: (package dir, dependency, constraint)
OURS = [(CORE, "attrs", "^23.1"), (WORKER, "redis", "^5.0")]
THEIRS = [(CORE, "six", "^1.16"), (GATEWAY, "structlog", "^23.2")]


def _say(text: str = "") -> None:
    print(text, flush=True)


def _pyproject(name: str, deps: Mapping[str, str], path_dep: bool, index_url: str) -> str:
    module = name.replace("-", "_")
    lines = [
        "[tool.poetry]",
        f'name = "{name}"',
        'version = "0.1.0"',
        f'description = "The {name} service"',
        'authors = ["Demo <demo@example.invalid>"]',
        f'packages = [{{ include = "{module}" }}]',
        "",
        "[tool.poetry.dependencies]",
        'python = ">=3.9"',
        *(f'{dep} = "{c}"' for dep, c in deps.items()),
    ]
    if path_dep:
        lines.append('core = { path = "../core", develop = true }')
    lines += [
        "",
        "[[tool.poetry.source]]",
        'name = "demo"',
        f'url = "{index_url}"',
        'priority = "primary"',
        "",
        "[build-system]",
        'requires = ["poetry-core>=1.0.0"]',
        'build-backend = "poetry.core.masonry.api"',
        "",
    ]
    return "\n".join(lines)


def add_dependency(project: Path, dep: str, constraint: str) -> None:
    """Add ``dep = "constraint"`` to a project written by :func:`_pyproject` (no relock)."""
    path = project / "pyproject.toml"
    anchor = 'python = ">=3.9"\n'
    path.write_text(path.read_text().replace(anchor, f'{anchor}{dep} = "{constraint}"\n', 1))


def sandbox_env(home: Path, poetry: Poetry) -> dict[str, str]:
    """This environment with Poetry's and git's state kept under ``home``: nothing the
    demo (or a benchmark built like it) runs reads or writes the user's own."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("POETRY_", "GIT_"))},
        "POETRY_CONFIG_DIR": str(home / "poetry-config"),
        "POETRY_CACHE_DIR": str(home / "poetry-cache"),
        "POETRY_DATA_DIR": str(home / "poetry-data"),
        "POETRY_VIRTUALENVS_CREATE": "false",
        "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Demo",
        "GIT_AUTHOR_EMAIL": "demo@example.invalid",
        "GIT_COMMITTER_NAME": "Demo",
        "GIT_COMMITTER_EMAIL": "demo@example.invalid",
        "LOCKFIX_POETRY": str(poetry.executable),
    }


class _Demo:
    def __init__(self, root: Path, poetry: Poetry, index: PackageIndex) -> None:
        self.root = root
        self.poetry = poetry
        self.index = index
        self.env = sandbox_env(root / "home", poetry)

    def run(self, args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(args, cwd=cwd, env=self.env, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return proc

    def git(self, repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(["git", "-c", "init.defaultBranch=main", *args], repo, check)

    def lock(self, repo: Path, pkg: str) -> None:
        started = time.monotonic()
        self.run([str(self.poetry.executable), *relock_args(self.poetry.version)], repo / pkg)
        _say(f"    poetry lock  {pkg:<28} {time.monotonic() - started:4.1f}s")

    def add(self, repo: Path, pkg: str, dep: str, constraint: str) -> None:
        add_dependency(repo / pkg, dep, constraint)

    def build(self) -> Path:
        repo = self.root / "monorepo"
        repo.mkdir()
        self.git(repo, "init", "-q")
        for pkg, (name, deps) in PACKAGES.items():
            (repo / pkg / name.replace("-", "_")).mkdir(parents=True)
            (repo / pkg / name.replace("-", "_") / "__init__.py").write_text("")
            (repo / pkg / "pyproject.toml").write_text(
                _pyproject(name, deps, pkg in DEPENDS_ON_CORE, self.index.url)
            )
        _say("  locking the three packages (core first: the others depend on it by path)")
        for pkg in PACKAGES:
            self.lock(repo, pkg)
        self.git(repo, "add", "-A")
        self.git(repo, "commit", "-qm", "three packages, locked")
        for branch, changes in (("feature", THEIRS), ("main", OURS)):
            self.git(repo, "checkout", "-q", *(["-b"] if branch == "feature" else []), branch)
            _say(f"  branch {branch}: " + ", ".join(f"{pkg.split('/')[1]} adds {dep}"
                                                  for pkg, dep, _ in changes))
            for pkg, dep, constraint in changes:
                self.add(repo, pkg, dep, constraint)
            touched = {pkg for pkg, _, _ in changes}
            if CORE in touched:
                touched.update(DEPENDS_ON_CORE)
            for pkg in PACKAGES:  # dependency order
                if pkg in touched:
                    self.lock(repo, pkg)
            self.git(repo, "commit", "-qam", f"{branch}: new dependencies")
        return repo

    def clone(self, repo: Path, name: str) -> Path:
        dest = self.root / name
        self.git(self.root, "clone", "-q", str(repo), str(dest))
        self.git(dest, "branch", "-q", "feature", "origin/feature")
        return dest


def _versions(lock_text: str) -> dict[str, str]:
    return {canonical_name(p["name"]): p["version"] for p in parse_lock(lock_text).packages}


def demo(*, keep: bool, poetry_path: str | None) -> int:
    poetry = find_poetry(poetry_path)
    root = Path(tempfile.mkdtemp(prefix="lockfix-demo-"))
    index = PackageIndex()
    index.add_many(DEFAULT_UNIVERSE)
    started = time.monotonic()
    try:
        _say(f"lockfix demo: Poetry {poetry.version_text}, package index on {index.url}")
        _say(f"  working in {root}\n")
        d = _Demo(root, poetry, index)
        repo = d.build()
        base_versions = {pkg: _versions((repo / pkg / "poetry.lock").read_text()) for pkg in PACKAGES}
        index.add("requests", "2.32.0", ["urllib3>=1.21,<3", "idna>=2.5,<4", "certifi>=2017.4.17"])
        _say("  meanwhile, requests 2.32.0 is published: a correct merge must not pick it up\n")

        _say("1) plain git: git merge feature")
        plain = d.clone(repo, "plain-git")
        d.git(plain, "merge", "--no-edit", "feature", check=False)
        conflicted = d.git(plain, "diff", "--name-only", "--diff-filter=U").stdout.split()
        for path in conflicted:
            regions = (plain / path).read_text().count("\n<<<<<<< ")
            _say(f"    CONFLICT {path:<40} {regions} conflict region(s)")
        sample = next((p for p in conflicted if p.endswith("poetry.lock")), None)
        if sample:
            text = (plain / sample).read_text()
            at = text.index("<<<<<<< ")
            snippet = text[at : text.index(">>>>>>> ", at)].splitlines()[:8]
            _say(f"    {sample} now holds:")
            for line in snippet:
                _say(f"      | {line[:90]}")
            _say("      | ...")
        check = d.run([sys.executable, "-m", "lockfix", "check"], plain, check=False)
        said = [ln for ln in check.stdout.splitlines() if ln.startswith(("lockfix check:", "fix:"))]
        _say(f"    lockfix check on this result (exit {check.returncode}): {'; '.join(said)}")

        _say("\n2) the same merge with lockfix: lockfix install; git merge feature")
        fixed = d.clone(repo, "with-lockfix")
        d.run([sys.executable, "-m", "lockfix", "install", "--attributes-file", "info"], fixed)
        t0 = time.monotonic()
        proc = d.git(fixed, "merge", "--no-edit", "feature", check=False)
        for line in proc.stderr.splitlines():
            if line.startswith("lockfix:"):
                _say(f"    {line}")
        if proc.returncode != 0:
            _say(f"    merge failed:\n{proc.stdout}{proc.stderr}")
            return 1
        _say(f"    merged cleanly in {time.monotonic() - t0:.1f}s; no conflicts left")

        _say("\n3) lockfix check (what CI runs)")
        check = d.run([sys.executable, "-m", "lockfix", "check"], fixed, check=False)
        for line in (check.stdout + check.stderr).strip().splitlines():
            _say(f"    {line}")
        _say(f"    exit status {check.returncode}")

        _say("\nwhat the merge brought into main, per package (from the regenerated locks):")
        for pkg in PACKAGES:
            after = _versions((fixed / pkg / "poetry.lock").read_text())
            before = base_versions[pkg]
            added = sorted(set(after) - set(before))
            kept = sorted(n for n in before if after.get(n) == before[n])
            _say(f"  {pkg}")
            _say(f"    new   : {', '.join(f'{n} {after[n]}' for n in added) or '-'}")
            _say(f"    kept  : {len(kept)} of {len(before)} locked versions unchanged, "
                 f"requests still {after.get('requests', '-')}")
        _say(f"\ndone in {time.monotonic() - started:.0f}s.")
        return 0 if check.returncode == 0 else 1
    finally:
        index.stop()
        if keep:
            _say(f"kept {root} (plain-git/ and with-lockfix/ hold the two merges)")
        else:
            shutil.rmtree(root, ignore_errors=True)
