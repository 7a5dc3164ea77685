"""Helpers shared by the reliability tests: waiting, and reading a served process's output."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import httpx

from tests.serving import ServedProcess

T = TypeVar("T")

# What a traceback looks like in a body or a log line.
TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/')


def wait_for(condition: Callable[[], T], *, within: float, what: str) -> T:
    """Poll ``condition`` until it is truthy; fail naming ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        time.sleep(0.02)


def assert_no_traceback(text: str, where: str) -> None:
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, f"a traceback in {where}:\n{text[:2000]}"


class OutputMark:
    """The part of a served process's output printed after this mark was taken."""

    def __init__(self, server: ServedProcess) -> None:
        self.server = server
        self.start = len(server.output)

    def text(self) -> str:
        return self.server.output[self.start :]

    def settled(self, *, quiet_for: float = 0.3, within: float = 5.0) -> str:
        """The output since the mark, once nothing new has been printed for ``quiet_for`` s."""
        deadline = time.monotonic() + within
        seen = self.text()
        while time.monotonic() < deadline:
            time.sleep(quiet_for)
            now = self.text()
            if now == seen:
                break
            seen = now
        return seen


def assert_serving(server: ServedProcess, *, host: str | None = None) -> None:
    """The server process is alive and answers its liveness probe."""
    assert server.process.poll() is None, f"the server died:\n{server.output[-3000:]}"
    headers = {"host": host} if host else {}
    answer = httpx.get(f"{server.url}/livez", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text


def beyond_info(text: str) -> list[str]:
    """Lines that are not uvicorn INFO lines: warnings, errors, tracebacks, tiffin's own log.

    Under ``tiffin serve`` the ``tiffin`` logger (which logs errors only) prints
    through Python's last-resort handler, without a level prefix.
    """
    return [line for line in text.splitlines() if line and not line.startswith("INFO:")]
