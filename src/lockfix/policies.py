"""How a two-sided clash is decided: the names users write in config and on the command
line. Kept apart from the merge code so that parsing arguments imports nothing heavy."""

from __future__ import annotations

from typing import Literal, get_args

# "newer": a clash in a dependency constraint goes to the side whose constraint starts at
# the newer version (lockfix.constraints); every other clash, and a dependency clash
# that is not clearly newer on one side, goes to theirs (NEWER_FALLBACK).
ManifestPolicy = Literal["newer", "theirs", "ours", "fail"]
LockPolicy = Literal["higher-or-drop", "drop", "higher", "ours", "theirs"]

MANIFEST_POLICIES: tuple[str, ...] = get_args(ManifestPolicy)
LOCK_POLICIES: tuple[str, ...] = get_args(LockPolicy)
DEFAULT_MANIFEST_POLICY: ManifestPolicy = "newer"
NEWER_FALLBACK: Literal["theirs"] = "theirs"
