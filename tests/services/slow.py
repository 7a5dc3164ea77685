"""A service whose API outlasts its decorator timeout, for `tiffin serve --timeout`."""

import asyncio

import tiffin


@tiffin.service(traffic={"timeout": 30})
class Slow:
    @tiffin.api
    async def wait(self, seconds: float = 3.0) -> str:
        await asyncio.sleep(seconds)
        return "done"
