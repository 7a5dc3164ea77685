"""The reference service's event log: one line per event, appended to a file.

A file, so the order of events is observable whether the service runs in this
process, in a server thread, or in a ``bentoml serve`` subprocess, and after it stopped.
"""

from __future__ import annotations

import os
from pathlib import Path


class EventLog:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.frozen: list[str] | None = None

    def freeze(self) -> None:
        """Keep what was recorded so far: the file is about to go away with its folder."""
        self.frozen = self.read()

    def record(self, event: str) -> None:
        # One write per line with O_APPEND: lines from threads and processes never interleave.
        data = (event.replace("\n", " ") + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def read(self) -> list[str]:
        if self.frozen is not None:
            return list(self.frozen)
        if not self.path.exists():
            return []
        return self.path.read_text().splitlines()

    def matching(self, prefix: str) -> list[str]:
        return [line for line in self.read() if line.startswith(prefix)]
