"""lockfix: resolve lock-file conflicts (Poetry, uv) by re-locking."""

__version__ = "0.1.0"

#: The manifest every package manager lockfix knows shares (locks: lockfix.backends).
PYPROJECT = "pyproject.toml"
#: The merge driver's private directory under the git dir (its Poetry tree and venvs).
GIT_WORK_DIR = "lockfix"
