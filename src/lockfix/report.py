"""Progress and summary output, shared by the commands.

On a terminal a single status line is redrawn in place while work runs; elsewhere (CI
logs, hooks, pipes) plain lines are printed as each package finishes, so logs stay
readable.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.done = 0
        self.running: list[str] = []
        self.quiet = quiet
        self.live = self.stream.isatty() and not quiet
        self._lock = threading.Lock()

    def _status(self) -> None:
        if self.live:
            busy = ", ".join(self.running) or "-"
            line = f"[{self.done}/{self.total}] locking {busy}"
            self.stream.write("\r\x1b[K" + line[:200])
            self.stream.flush()

    def start(self, label: str) -> None:
        with self._lock:
            self.running.append(label)
            self._status()

    def finish(self, label: str, line: str) -> None:
        with self._lock:
            if label in self.running:
                self.running.remove(label)
            self.done += 1
            if self.live:
                self.stream.write("\r\x1b[K")
            if not self.quiet:
                self.stream.write(line + "\n")
            self._status()
            self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
