"""A service whose answers name the worker process serving them, for killing one under load.

``/hold`` streams its worker's pid at once and then stays in flight, so a test
knows which worker holds a request before it kills that worker.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import tiffin


@tiffin.service
class Workers:
    @tiffin.api
    async def pid(self, delay: float = 0.0) -> int:
        await asyncio.sleep(delay)
        return os.getpid()

    @tiffin.api
    async def hold(self, seconds: float = 30.0) -> AsyncIterator[str]:
        yield f"{os.getpid()}\n"
        await asyncio.sleep(seconds)
        yield "released\n"
