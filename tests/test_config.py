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
