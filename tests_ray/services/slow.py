"""A service with APIs that take a while: load for the replica and node failure tests."""

import asyncio
import os

import tiffin


@tiffin.service(traffic={"timeout": 10})
class Slow:
    @tiffin.api
    async def work(self, seconds: float = 0.05) -> dict:
        await asyncio.sleep(seconds)
        return {"pid": os.getpid()}
