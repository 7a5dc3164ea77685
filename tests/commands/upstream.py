"""A tiny HTTP server run as a service's ``__command__`` in tests: ``python upstream.py PORT``.

``/health`` answers once the server is up (``HEALTH_STATUS`` changes its status);
``/echo`` answers what it was sent; ``/stream`` sends its second chunk only once
``/release`` was called; ``/ws`` echoes websocket messages; ``/metrics`` is
Prometheus text.
"""

from __future__ import annotations

import asyncio
import os
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

released = asyncio.Event()


async def health(request: Request) -> Response:
    return PlainTextResponse("ok", status_code=int(os.environ.get("HEALTH_STATUS", "200")))


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "body": body.decode(),
            "headers": dict(request.headers),
            "pid": os.getpid(),
        },
        status_code=201,
        headers={"x-upstream": "yes"},
    )


async def stream(request: Request) -> Response:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b"first;"
        await released.wait()
        yield b"second"

    return StreamingResponse(chunks(), media_type="text/plain")


async def release(request: Request) -> Response:
    released.set()
    return PlainTextResponse("released")


async def metrics(request: Request) -> Response:
    return PlainTextResponse("# TYPE upstream_up gauge\nupstream_up 1\n")


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        text = await websocket.receive_text()
        if text == "bye":
            await websocket.close(code=4001)
            return
        await websocket.send_text(f"echo:{text}")


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/stream", stream),
        Route("/release", release, methods=["POST"]),
        Route("/metrics", metrics),
        WebSocketRoute("/ws", ws),
        Route("/{path:path}", echo, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
