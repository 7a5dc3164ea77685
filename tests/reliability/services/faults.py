"""A service with a fault planted in every layer a request passes through.

- user middleware: ``/boom/middleware-early`` raises before the response starts,
  ``/boom/middleware-late`` after it started;
- ``@api``: ``/boom`` (async), ``/boom_sync`` (a sync API, raising in its thread),
  ``/hang`` (awaits forever), ``/block`` (blocks its thread past the timeout);
- mounted apps, FastAPI ``/f``, Quart ``/q``, Starlette ``/s``, bare ASGI ``/bare``:
  ``/early`` raises before the response starts, ``/late`` after the first chunk.

Every fault message carries ``FAULT_MARK`` so the tests can find it in the log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import StreamingResponse as FastAPIStreamingResponse
from quart import Quart
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import tiffin

FAULT_MARK = "planted-fault"
TIMEOUT = 1


def fault(where: str) -> RuntimeError:
    return RuntimeError(f"{FAULT_MARK} in {where}")


async def first_chunk_then_fault(where: str) -> AsyncIterator[bytes]:
    yield b"first chunk;"
    await asyncio.sleep(0.05)
    raise fault(where)


fastapi_app = FastAPI()


@fastapi_app.get("/early")
async def fastapi_early() -> str:
    raise fault("fastapi before its response")


@fastapi_app.get("/late")
async def fastapi_late() -> FastAPIStreamingResponse:
    return FastAPIStreamingResponse(first_chunk_then_fault("fastapi after its response started"))


@fastapi_app.get("/fine")
async def fastapi_fine() -> str:
    return "fastapi fine"


quart_app = Quart(__name__)


@quart_app.get("/early")
async def quart_early() -> str:
    raise fault("quart before its response")


@quart_app.get("/late")
async def quart_late() -> Any:
    return first_chunk_then_fault("quart after its response started"), 200


async def starlette_early(request: Request) -> PlainTextResponse:
    raise fault("starlette before its response")


async def starlette_late(request: Request) -> StreamingResponse:
    return StreamingResponse(first_chunk_then_fault("starlette after its response started"))


starlette_app = Starlette(routes=[Route("/early", starlette_early), Route("/late", starlette_late)])


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"].endswith("/early"):
        raise fault("bare ASGI before its response")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"first chunk;", "more_body": True})
    if scope["path"].endswith("/late"):
        raise fault("bare ASGI after its response started")
    await send({"type": "http.response.body", "body": b"bare fine"})


class ExplodingMiddleware:
    """A user middleware that fails on two paths, before and after the response started."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if path == "/boom/middleware-early":
            raise fault("user middleware before the response")
        if path != "/boom/middleware-late":
            await self.app(scope, receive, send)
            return

        async def send_then_fail(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body":
                raise fault("user middleware after the response started")

        await self.app(scope, receive, send_then_fail)


async def chunks() -> AsyncIterator[str]:
    yield "first chunk;"
    yield "second chunk"


@tiffin.service(traffic={"timeout": TIMEOUT})
@tiffin.mount_asgi_app(fastapi_app, path="/f")
@tiffin.mount_asgi_app(quart_app, path="/q")
@tiffin.mount_asgi_app(starlette_app, path="/s")
@tiffin.mount_asgi_app(bare_app, path="/bare")
class Faults:
    @tiffin.api
    async def fine(self, text: str = "fine") -> str:
        return text

    @tiffin.api
    async def boom(self) -> str:
        raise fault("an async API")

    @tiffin.api
    def boom_sync(self) -> str:
        raise fault("a sync API in its thread")

    @tiffin.api
    async def hang(self) -> str:
        await asyncio.Event().wait()
        return "never"

    @tiffin.api
    def block(self, seconds: float = 3.0) -> str:
        time.sleep(seconds)
        return "unblocked"

    @tiffin.api(route="/boom/middleware-late")
    async def middleware_late(self) -> Any:
        return chunks()


Faults.add_asgi_middleware(ExplodingMiddleware)
