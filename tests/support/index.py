"""Moved to lockfix.localindex (the demo uses it too); kept only while imports migrate."""
from lockfix.localindex import *  # noqa: F403
from lockfix.localindex import DEFAULT_UNIVERSE, Dist, PackageIndex  # noqa: F401
