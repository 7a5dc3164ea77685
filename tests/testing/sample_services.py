"""Services the harness tests run: each records what happened in ``EVENTS``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, WebSocket
from fastapi.responses import StreamingResponse
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response

import tiffin

EVENTS: list[str] = []
SENT = {"events": 0}  # how many server-sent events the stream has produced


def settings() -> dict[str, str]:
    return {"mode": "production"}


@asynccontextmanager
async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
    EVENTS.append("app startup")
    yield
    EVENTS.append("app shutdown")


app = FastAPI(lifespan=app_lifespan)


@tiffin.service(traffic={"timeout": 10})
@tiffin.mount_asgi_app(app, path="/v1")
class Recorder:
    greeting = "Hello"

    @tiffin.on_startup
    def started(self) -> None:
        EVENTS.append("service startup")

    @tiffin.on_shutdown
    def stopped(self) -> None:
        EVENTS.append("service shutdown")

    @tiffin.api
    def greet(self, who: str = "you") -> str:
        return f"{self.greeting} {who}"

    @app.get("/hello")
    def hello(self) -> str:
        return f"{self.greeting} from {type(self).__name__}"

    @app.get("/settings")
    def show_settings(
        self, current: Annotated[dict[str, str], Depends(settings)]
    ) -> dict[str, str]:
        return current

    @app.get("/events")
    async def events(self, request: Request) -> StreamingResponse:
        """Server-sent events that never end, until the client goes away."""

        async def stream() -> AsyncIterator[str]:
            EVENTS.append("stream started")
            number = 0
            try:
                while True:
                    number += 1
                    SENT["events"] += 1
                    yield f"data: {number}\n\n"
                    await asyncio.sleep(0.001)
            finally:
                EVENTS.append("stream stopped")

        return StreamingResponse(stream(), media_type="text/event-stream")

    @app.websocket("/echo")
    async def echo(self, websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(f"welcome from {tiffin.get_current_service().greeting}")
        while True:
            text = await websocket.receive_text()
            if text == "bye":
                await websocket.close()
                return
            await websocket.send_text(f"{websocket.headers.get('x-seen-by')}: {text}")


class StampHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["x-stamp"] = "yes"
        return response


class StampWebsocketScope:
    """A pure ASGI middleware that also sees websocket scopes."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            scope = {**scope, "headers": [*scope["headers"], (b"x-seen-by", b"middleware")]}
        await self.app(scope, receive, send)


Recorder.add_asgi_middleware(StampHeaders)
Recorder.add_asgi_middleware(StampWebsocketScope)


broken_app = FastAPI()


@asynccontextmanager
async def broken_lifespan(app: FastAPI) -> AsyncIterator[None]:
    raise FileNotFoundError("model weights not found at /models/missing.bin")
    yield


broken_app.router.lifespan_context = broken_lifespan


@tiffin.service
@tiffin.mount_asgi_app(broken_app, path="/models")
class BrokenMount:
    @tiffin.api
    def ping(self) -> str:
        return "pong"


hung_app = FastAPI()


@asynccontextmanager
async def hung_lifespan(app: FastAPI) -> AsyncIterator[None]:
    await asyncio.Event().wait()  # never set: startup hangs here
    yield


hung_app.router.lifespan_context = hung_lifespan


@tiffin.service
@tiffin.mount_asgi_app(hung_app, path="/slow")
class HungMount:
    pass


@tiffin.service
class SlowAPI:
    @tiffin.api
    async def wait(self) -> str:
        await asyncio.sleep(3600)
        return "never"


@tiffin.service
class Calls:
    """APIs answering JSON, text, bytes and an error, for ``client.call()``."""

    @tiffin.api
    def add(self, a: int, b: int) -> dict[str, int]:
        return {"sum": a + b}

    @tiffin.api
    def shout(self, text: str) -> str:
        return text.upper()

    @tiffin.api(route="/raw/bytes")
    def raw(self) -> bytes:
        return b"\x00\x01"

    @tiffin.api
    def fail(self) -> str:
        raise ValueError("the model exploded")

    @tiffin.api
    async def wait(self) -> str:
        await asyncio.sleep(3600)
        return "never"


guarded_app = FastAPI()


@guarded_app.get("/hello")
def guarded_hello(request: Request) -> str:
    return f"Hello {request.headers['host']}"


@tiffin.service
@tiffin.mount_asgi_app(guarded_app, path="/v1")
class Guarded:
    """Behind TrustedHostMiddleware: only example.com is served."""


Guarded.add_asgi_middleware(TrustedHostMiddleware, allowed_hosts=["example.com"])
