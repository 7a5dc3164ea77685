"""A service that answers with the id of the worker process that served the request."""

import asyncio
import os

import tiffin


@tiffin.service
class Pids:
    @tiffin.api
    async def pid(self, delay: float = 0.0) -> int:
        await asyncio.sleep(delay)
        return os.getpid()
