"""A service behind TrustedHost with every kind of route, for hostile requests over a socket.

Routes: APIs (async and sync, one that sleeps and records what happened to it),
infra, docs, a FastAPI app at ``/v1``, Quart at ``/q``, Starlette at ``/s``, a
bare ASGI app at ``/bare`` and a Starlette "admin" app at ``/admin`` that a
path trick under another prefix must never reach. Only ``example.com`` and its
subdomains are allowed hosts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from quart import Quart
from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import tiffin

ADMIN_SECRET = "admin-only-page"
TIMEOUT = 2
MAX_CONCURRENCY = 4
MAX_BODY_SIZE = 1024

fastapi_app = FastAPI()


@fastapi_app.get("/hello")
async def fastapi_hello() -> str:
    return "fastapi hello"


@fastapi_app.post("/upload")
async def fastapi_upload(request: Request) -> int:
    return len(await request.body())


quart_app = Quart(__name__)


@quart_app.get("/hello")
async def quart_hello() -> str:
    return "quart hello"


async def starlette_hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("starlette hello")


starlette_app = Starlette(routes=[Route("/hello", starlette_hello)])


async def bare_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"bare hello"})


async def admin_page(request: Request) -> PlainTextResponse:
    return PlainTextResponse(ADMIN_SECRET)


admin_app = Starlette(routes=[Route("/", admin_page), Route("/panel", admin_page)])

# What happened to the handlers of /sleep and /sleep_sync, read back through /events.
EVENTS: list[str] = []


@tiffin.service(
    traffic={"timeout": TIMEOUT, "max_concurrency": MAX_CONCURRENCY, "max_body_size": MAX_BODY_SIZE}
)
@tiffin.mount_asgi_app(fastapi_app, path="/v1")
@tiffin.mount_asgi_app(quart_app, path="/q")
@tiffin.mount_asgi_app(starlette_app, path="/s")
@tiffin.mount_asgi_app(bare_app, path="/bare")
@tiffin.mount_asgi_app(admin_app, path="/admin")
class Hostile:
    @tiffin.api
    async def echo(self, text: str = "") -> str:
        return text

    @tiffin.api
    async def sleep(self, seconds: float, tag: str = "") -> str:
        EVENTS.append(f"{tag} started")
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            EVENTS.append(f"{tag} cancelled")
            raise
        EVENTS.append(f"{tag} finished")
        return "slept"

    @tiffin.api
    def sleep_sync(self, seconds: float, tag: str = "") -> str:
        EVENTS.append(f"{tag} started")
        time.sleep(seconds)
        EVENTS.append(f"{tag} finished")
        return "slept"

    @tiffin.api
    async def stream(self, tag: str = "") -> AsyncIterator[str]:
        """An endless stream, until the client goes away."""
        EVENTS.append(f"{tag} started")
        try:
            while True:
                yield "tick\n"
                await asyncio.sleep(0.05)
        finally:
            EVENTS.append(f"{tag} closed")

    @tiffin.api
    async def events(self) -> list[str]:
        return list(EVENTS)


Hostile.add_asgi_middleware(TrustedHostMiddleware, allowed_hosts=["example.com", "*.example.com"])
