"""Settings: built-in defaults, then ``[tool.lockfix]`` in the repository's root
``pyproject.toml``, then command-line flags. One place reads them all.

One setting is different: whether the merge driver may run build code that the incoming
side brought (:func:`allow_build`). Trust is a person's decision, not a branch's, so it
is never read from a manifest the merge is changing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lockfix.backends import DEFAULT_TIMEOUT
from lockfix.errors import LockfixError
from lockfix.git import Git
from lockfix.policies import (
    DEFAULT_MANIFEST_POLICY,
    LOCK_POLICIES,
    MANIFEST_POLICIES,
    LockPolicy,
    ManifestPolicy,
)
from lockfix.toml import load_toml


@dataclass(frozen=True)
class Settings:
    manifest_policy: ManifestPolicy = DEFAULT_MANIFEST_POLICY
    lock_policy: LockPolicy = "higher-or-drop"
    timeout: float = DEFAULT_TIMEOUT
    poetry: str | None = None  # executable; None = $LOCKFIX_POETRY or PATH
    uv: str | None = None  # executable; None = $LOCKFIX_UV or PATH

    def executable(self, backend: str) -> str | None:
        """The executable chosen on the command line for a backend (``--poetry``, ``--uv``)."""
        return {"poetry": self.poetry, "uv": self.uv}.get(backend)

    def override(self, **flags: Any) -> Settings:
        """Apply command-line flags; a flag left unset (None) keeps the configured value."""
        return replace(self, **{k: v for k, v in flags.items() if v is not None})


def _choice(table: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = table.get(key, default)
    if value not in allowed:
        raise LockfixError(
            f"[tool.lockfix] {key} = {value!r} is not one of {', '.join(allowed)}",
            hint="fix the root pyproject.toml",
        )
    return str(value)


def load_settings(repo_root: Path) -> Settings:
    """Read ``[tool.lockfix]`` from the root pyproject.toml; missing or unparsable = defaults.

    An unparsable root manifest is common mid-merge (it may be the very file being
    resolved), so it must not stop lockfix: the settings are then read from the version
    committed at HEAD (ours), else the defaults apply.
    """
    path = repo_root / "pyproject.toml"
    try:
        data = load_toml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, LockfixError, UnicodeDecodeError):
        try:
            blob = Git(repo_root).show_file("HEAD", "pyproject.toml")
            data = load_toml(blob.decode("utf-8"), "HEAD:pyproject.toml") if blob else {}
        except (LockfixError, UnicodeDecodeError):
            return Settings()
    table = data.get("tool", {}).get("lockfix", {})
    if not isinstance(table, Mapping):
        return Settings()
    defaults = Settings()
    timeout = table.get("timeout", defaults.timeout)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise LockfixError(f"[tool.lockfix] timeout = {timeout!r} must be a positive number")
    return Settings(
        manifest_policy=_choice(table, "manifest-policy", MANIFEST_POLICIES, defaults.manifest_policy),  # type: ignore[arg-type]
        lock_policy=_choice(table, "lock-policy", LOCK_POLICIES, defaults.lock_policy),  # type: ignore[arg-type]
        timeout=float(timeout),
    )


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def allow_build(git: Git, env: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """May the merge driver run build code the incoming side added or changed? (answer,
    where it came from). The first source that says anything wins:

    1. ``LOCKFIX_ALLOW_BUILD=1`` / ``=0`` in the environment (one command);
    2. ``git config lockfix.allowBuild true|false`` (this clone, or ``git -c``);
    3. ``[tool.lockfix] allow-build = true`` in the root pyproject.toml *as committed at
       HEAD* (ours): never the working tree's, the merged or the incoming one, so that a
       branch cannot grant itself permission;
    4. otherwise not allowed.
    """
    env = os.environ if env is None else env
    value = env.get("LOCKFIX_ALLOW_BUILD")
    if value is not None and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE, "LOCKFIX_ALLOW_BUILD"
    configured = git.run("config", "--get", "--bool", "lockfix.allowBuild", check=False).strip()
    if configured in ("true", "false"):
        return configured == "true", "git config lockfix.allowBuild"
    blob = git.show_file("HEAD", "pyproject.toml")
    if blob is not None:
        try:
            data = load_toml(blob.decode("utf-8"), "HEAD:pyproject.toml")
        except (LockfixError, UnicodeDecodeError):
            return False, "default"
        table = data.get("tool", {}).get("lockfix", {})
        if isinstance(table, Mapping) and table.get("allow-build") is True:
            return True, "[tool.lockfix] allow-build at HEAD"
    return False, "default"
