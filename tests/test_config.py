"""[tool.lockfix] settings: the manifest policies users may write, and the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockfix.config import Settings, load_settings
from lockfix.errors import LockfixError
from lockfix.policies import MANIFEST_POLICIES


def test_newer_is_the_default_manifest_policy(tmp_path: Path) -> None:
    assert Settings().manifest_policy == "newer"
    assert load_settings(tmp_path).manifest_policy == "newer"  # no pyproject.toml at all
    (tmp_path / "pyproject.toml").write_text('[tool.lockfix]\nlock-policy = "higher"\n')
    assert load_settings(tmp_path).manifest_policy == "newer"


@pytest.mark.parametrize("policy", ["newer", "theirs", "ours", "fail"])
def test_every_manifest_policy_can_be_configured(tmp_path: Path, policy: str) -> None:
    assert policy in MANIFEST_POLICIES
    (tmp_path / "pyproject.toml").write_text(f'[tool.lockfix]\nmanifest-policy = "{policy}"\n')
    settings = load_settings(tmp_path)
    assert settings.manifest_policy == policy
    assert settings.override(manifest_policy=None).manifest_policy == policy
    assert settings.override(manifest_policy="ours").manifest_policy == "ours"


def test_unknown_manifest_policy_is_an_error_naming_the_choices(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.lockfix]\nmanifest-policy = "newest"\n')
    with pytest.raises(LockfixError) as caught:
        load_settings(tmp_path)
    assert "newer, theirs, ours, fail" in caught.value.message


def test_conflicted_root_manifest_reads_the_settings_committed_at_head(tmp_path: Path) -> None:
    """Mid-merge the root pyproject.toml may be the very file in conflict: the settings
    come from the version committed on our side, not from the defaults."""
    import subprocess

    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    committed = '[project]\nname = "x"\n\n[tool.lockfix]\nmanifest-policy = "ours"\nlock-policy = "drop"\n'
    (tmp_path / "pyproject.toml").write_text(committed)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
        subprocess.run(["git", *args], cwd=tmp_path, env=env, check=True)
    (tmp_path / "pyproject.toml").write_text(
        committed + "<<<<<<< HEAD\ntimeout = 5\n=======\ntimeout = 9\n>>>>>>> feature\n")
    settings = load_settings(tmp_path)
    assert (settings.manifest_policy, settings.lock_policy) == ("ours", "drop")
