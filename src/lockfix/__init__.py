"""lockfix: resolve Poetry lock conflicts by re-locking."""

__version__ = "0.1.0"

#: The two files lockfix works on, in every package directory.
PYPROJECT = "pyproject.toml"
LOCKFILE = "poetry.lock"
