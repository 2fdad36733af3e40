"""`lockfix demo`, the README's main-job command, end to end on both Poetry lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.lockfix import lockfix

pytestmark = pytest.mark.e2e


def workdir(output: str) -> Path:
    m = re.search(r"working in (\S+)", output)
    assert m, output
    return Path(m.group(1))


def test_demo_shows_the_conflict_then_a_clean_merge_and_cleans_up(tmp_path, poetry):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = lockfix("demo", cwd=tmp_path, poetry=poetry, extra_env={"TMPDIR": str(tmp)})
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert f"lockfix demo: Poetry {'.'.join(map(str, poetry.version))}," in out
    # 1) plain git conflicts, and CI would say so
    assert "CONFLICT packages/core/poetry.lock" in out
    assert "lockfix check on this result (exit 1)" in out and "fix: lockfix run packages/core" in out
    # 2) the same merge with the driver: every lock regenerated, nothing left conflicted
    assert out.count("poetry.lock: regenerated") == 3
    assert "merged cleanly" in out and "no conflicts left" in out
    # 3) check passes; before/after: each side's additions arrived, locked versions kept
    assert "lockfix check: no problems (3 Poetry package(s))" in out
    assert "new   : six 1.16.0, structlog 23.2.0" in out  # api-gateway: theirs' additions
    assert out.count("requests still 2.31.0") == 3  # 2.32.0 was published meanwhile
    assert not workdir(out).exists()
    assert list(tmp.iterdir()) == []  # nothing left behind in TMPDIR


def test_demo_keep_leaves_both_merges_to_look_at(tmp_path, poetry):
    proc = lockfix("demo", "--keep", cwd=tmp_path, poetry=poetry, extra_env={"TMPDIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    root = workdir(proc.stdout)
    assert (root / "plain-git" / "packages" / "core" / "poetry.lock").read_text().count("<<<<<<< ") >= 1
    assert "<<<<<<<" not in (root / "with-lockfix" / "packages" / "core" / "poetry.lock").read_text()
