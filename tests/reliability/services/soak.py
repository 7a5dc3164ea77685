"""The service of the soak test: fast APIs (async and sync), one that outlasts the timeout,
a mounted FastAPI route, and a debug API counting the worker's asyncio tasks and threads.

``timeout=1`` turns ``/slow`` into a 504; ``max_concurrency`` below the soak's
client concurrency turns some requests into 429s.
"""

from __future__ import annotations

import asyncio
import os
import threading

from fastapi import FastAPI

import tiffin

TIMEOUT = 1
MAX_CONCURRENCY = 8
THREADS = 4

app = FastAPI()


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, object]:
    return {"id": item_id, "name": f"item {item_id}"}


@tiffin.service(traffic={"timeout": TIMEOUT, "max_concurrency": MAX_CONCURRENCY}, threads=THREADS)
@tiffin.mount_asgi_app(app, path="/v1")
class Soak:
    @tiffin.api
    async def echo(self, text: str) -> str:
        return text

    @tiffin.api
    def echo_sync(self, text: str) -> str:
        return text

    @tiffin.api
    async def slow(self, seconds: float = 5.0) -> str:
        await asyncio.sleep(seconds)
        return "late"

    @tiffin.api
    async def debug_counts(self) -> dict[str, int]:
        """What a leak would grow: tasks on the loop (this request's own included), threads."""
        return {
            "tasks": len(asyncio.all_tasks()),
            "threads": threading.active_count(),
            "pid": os.getpid(),
        }
