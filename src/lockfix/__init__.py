"""lockfix: resolve Poetry lock conflicts by re-locking."""

__version__ = "0.1.0"

#: The two files lockfix works on, in every package directory.
PYPROJECT = "pyproject.toml"
LOCKFILE = "poetry.lock"
#: The merge driver's private directory under the git dir (its Poetry tree and venvs).
GIT_WORK_DIR = "lockfix"
