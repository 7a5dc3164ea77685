"""Steady load on a service while a test breaks something: every answer counted, in order."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class Answer:
    at: float
    status: int | None  # None: no HTTP answer (connection error, timeout)
    body: str


@dataclass
class Load:
    """``with Load(url, "/work") as load:`` posts from ``clients`` threads until the block ends."""

    url: str
    path: str
    clients: int = 4
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, daemon=True) for _ in range(self.clients)
        ]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=15) as client:
            while not self._stop.is_set():
                try:
                    response = client.post(self.path, json={})
                    answer = Answer(time.monotonic(), response.status_code, response.text)
                except httpx.HTTPError as exc:
                    answer = Answer(time.monotonic(), None, repr(exc))
                with self._lock:
                    self.answers.append(answer)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def wait_for(self, count: int, seconds: float = 60) -> None:
        """Until ``count`` more answers arrived."""
        target = len(self.answers) + count
        deadline = time.monotonic() + seconds
        while len(self.answers) < target and time.monotonic() < deadline:
            time.sleep(0.05)

    def failures(self) -> list[Answer]:
        return [answer for answer in self.answers if answer.status != 200]

    def summary(self) -> str:
        failed = self.failures()
        kinds: dict[str, int] = {}
        for answer in failed:
            key = str(answer.status) if answer.status is not None else answer.body.split("(")[0]
            kinds[key] = kinds.get(key, 0) + 1
        return f"{len(self.answers)} requests, {len(failed)} failed {kinds or ''}".strip()
