"""Contender (a), the ceiling: one ASGI callable answering the same four routes, no framework.

The "sync" routes run their work in the loop's default thread pool, which is
the least a framework must do for a ``def`` handler.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

HELLO = b'{"message":"hello"}'
JSON_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"19")]


def _text_headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]


def _echo(body: bytes) -> bytes:
    return str(json.loads(body or b"{}").get("text", "hello")).encode()


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    path, method = scope["path"], scope["method"]
    if method == "GET" and path == "/v1/async":
        await _respond(send, 200, JSON_HEADERS, HELLO)
    elif method == "GET" and path == "/v1/sync":
        body = await asyncio.get_running_loop().run_in_executor(None, lambda: HELLO)
        await _respond(send, 200, JSON_HEADERS, body)
    elif method == "POST" and path == "/echo_async":
        body = _echo(await _read_body(receive))
        await _respond(send, 200, _text_headers(body), body)
    elif method == "POST" and path == "/echo_sync":
        raw = await _read_body(receive)
        body = await asyncio.get_running_loop().run_in_executor(None, _echo, raw)
        await _respond(send, 200, _text_headers(body), body)
    elif path == "/readyz":
        await _respond(send, 200, _text_headers(b"\n"), b"\n")
    else:
        await _respond(send, 404, _text_headers(b"Not Found"), b"Not Found")
