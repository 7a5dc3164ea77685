"""A service that records its lifecycle to the file named by $TIFFIN_TEST_RECORD.

One line per event, with the worker's pid: startup, each request's start and
end, the mounted app's lifespan shutdown, the on_shutdown hook.
"""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import tiffin


def record(event: str) -> None:
    with open(os.environ["TIFFIN_TEST_RECORD"], "a") as file:
        file.write(f"{event} {os.getpid()}\n")


@contextlib.asynccontextmanager
async def mounted_lifespan(app: Starlette) -> AsyncIterator[None]:
    record("mount started")
    yield
    record("mount stopped")


async def ping(request: object) -> PlainTextResponse:
    return PlainTextResponse("pong")


side = Starlette(routes=[Route("/ping", ping)], lifespan=mounted_lifespan)


@tiffin.service
@tiffin.mount_asgi_app(side, path="/side")
class Draining:
    @tiffin.on_startup
    def started(self) -> None:
        record("startup")

    @tiffin.api
    async def work(self, seconds: float = 2.0) -> str:
        record("request started")
        await asyncio.sleep(seconds)
        record("request finished")
        return "done"

    @tiffin.on_shutdown
    def stopped(self) -> None:
        record("on_shutdown")
