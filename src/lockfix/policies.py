"""How a two-sided clash is decided: the names users write in config and on the command
line. Kept apart from the merge code so that parsing arguments imports nothing heavy."""

from __future__ import annotations

from typing import Literal, get_args

ManifestPolicy = Literal["theirs", "ours", "fail"]
LockPolicy = Literal["higher-or-drop", "drop", "higher", "ours", "theirs"]

MANIFEST_POLICIES: tuple[str, ...] = get_args(ManifestPolicy)
LOCK_POLICIES: tuple[str, ...] = get_args(LockPolicy)
