"""SIGTERM and SIGINT handled one way for a while, then as before (the serve commands)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
Handler = Callable[[int, FrameType | None], Any] | int


@contextlib.contextmanager
def on_stop_signals(handler: Handler) -> Iterator[None]:
    """Inside the block SIGTERM and SIGINT call ``handler`` (or ``signal.SIG_IGN``)."""
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
