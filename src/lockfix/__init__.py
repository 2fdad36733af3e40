"""lockfix: resolve Poetry lock conflicts by re-locking."""

__version__ = "0.1.0"
