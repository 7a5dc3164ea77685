"""tiffin's test harness: run a service in-process or live and talk to it with httpx.

The pytest plugin (``tiffin.testing.plugin``, entry point ``tiffin``) wraps
these in fixtures; they work without pytest too::

    async with ServiceClient(MyService, streaming=True) as client:
        ...
"""

from __future__ import annotations

from tiffin.testing.factory import HarnessSettings, ServiceClient
from tiffin.testing.live import LiveServer
from tiffin.testing.loops import DeadlineExceeded, WrongEventLoop
from tiffin.testing.transport import InProcessTransport

__all__ = [
    "DeadlineExceeded",
    "HarnessSettings",
    "InProcessTransport",
    "LiveServer",
    "ServiceClient",
    "WrongEventLoop",
]
