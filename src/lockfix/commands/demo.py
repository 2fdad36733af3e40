"""``lockfix demo``: the whole story on a throw-away monorepo, offline, in under a minute.

Each backend brings its own layout (``backends/*/demo.py``): for Poetry, three packages
with a lock each, two of them depending on core by path; for uv, a workspace of the same
three members with one lock at its root. The demo locks them against a package index
served on 127.0.0.1, makes two branches that both change dependencies, and merges them
twice: once with plain git (conflicts), once with lockfix's driver installed (clean,
fresh locks). Everything lives in one temp directory, the tool's cache and config included.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lockfix.backends import BY_NAME, Backend, DemoKit, Tool
from lockfix.localindex import DEFAULT_UNIVERSE, PackageIndex
from lockfix.workspace import in_dir


def _say(text: str = "") -> None:
    print(text, flush=True)


class _Demo:
    def __init__(self, root: Path, backend: Backend, tool: Tool, index: PackageIndex) -> None:
        self.root = root
        self.backend = backend
        self.tool = tool
        self.kit: DemoKit = backend.demo()
        self.index = index
        self.env = self.kit.env(root / "home", tool.executable)

    def run(self, args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(args, cwd=cwd, env=self.env, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return proc

    def git(self, repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(["git", "-c", "init.defaultBranch=main", *args], repo, check)

    def lock(self, repo: Path, pkg: str) -> None:
        started = time.monotonic()
        argv = self.tool.argv()
        self.run(argv, repo / pkg)
        command = " ".join([Path(argv[0]).name, argv[1]])
        _say(f"    {command}  {pkg or '.':<28} {time.monotonic() - started:4.1f}s")

    def build(self) -> Path:
        repo = self.root / "monorepo"
        repo.mkdir()
        self.git(repo, "init", "-q")
        self.kit.write_base(repo, self.index.url)
        _say(f"  locking {self.kit.layout}")
        for pkg in self.kit.lock_dirs(None):
            self.lock(repo, pkg)
        self.git(repo, "add", "-A")
        self.git(repo, "commit", "-qm", "three packages, locked")
        for branch, changes in (("feature", self.kit.theirs), ("main", self.kit.ours)):
            self.git(repo, "checkout", "-q", *(["-b"] if branch == "feature" else []), branch)
            _say(f"  branch {branch}: " + ", ".join(f"{pkg.split('/')[-1]} adds {dep}"
                                                  for pkg, dep, _ in changes))
            for pkg, dep, constraint in changes:
                self.kit.add(repo, pkg, dep, constraint)
            for pkg in self.kit.lock_dirs({pkg for pkg, _, _ in changes}):
                self.lock(repo, pkg)
            self.git(repo, "commit", "-qam", f"{branch}: new dependencies")
        return repo

    def clone(self, repo: Path, name: str) -> Path:
        dest = self.root / name
        self.git(self.root, "clone", "-q", str(repo), str(dest))
        self.git(dest, "branch", "-q", "feature", "origin/feature")
        return dest

    def versions(self, repo: Path, pkg: str) -> dict[str, str]:
        return self.backend.locked_versions((repo / in_dir(pkg, self.backend.lockfile)).read_text())


def demo(*, keep: bool, manager: str = "poetry", executable: str | None = None) -> int:
    backend = BY_NAME[manager]
    tool = backend.find_tool(executable)
    root = Path(tempfile.mkdtemp(prefix="lockfix-demo-"))
    index = PackageIndex()
    index.add_many(DEFAULT_UNIVERSE)
    started = time.monotonic()
    try:
        _say(f"lockfix demo: {tool.label}, package index on {index.url}")
        _say(f"  working in {root}\n")
        d = _Demo(root, backend, tool, index)
        repo = d.build()
        base_versions = {pkg: d.versions(repo, pkg) for pkg in d.kit.report_dirs()}
        index.add("requests", "2.32.0", ["urllib3>=1.21,<3", "idna>=2.5,<4", "certifi>=2017.4.17"])
        _say("  meanwhile, requests 2.32.0 is published: a correct merge must not pick it up\n")

        _say("1) plain git: git merge feature")
        plain = d.clone(repo, "plain-git")
        d.git(plain, "merge", "--no-edit", "feature", check=False)
        conflicted = d.git(plain, "diff", "--name-only", "--diff-filter=U").stdout.split()
        for path in conflicted:
            regions = (plain / path).read_text().count("\n<<<<<<< ")
            _say(f"    CONFLICT {path:<40} {regions} conflict region(s)")
        sample = next((p for p in conflicted if p.endswith(backend.lockfile)), None)
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

        _say("\nwhat the merge brought into main, per lock (from the regenerated locks):")
        for pkg, before in base_versions.items():
            after = d.versions(fixed, pkg)
            added = sorted(set(after) - set(before))
            kept = sorted(n for n in before if after.get(n) == before[n])
            _say(f"  {in_dir(pkg, backend.lockfile)}")
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
