"""Drive an ASGI app directly, message by message, where an HTTP client would hide them.

httpx's ASGITransport waits for the app call to return and buffers whole bodies;
these helpers show each message the app sends, as it sends it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

Message = dict[str, Any]
DEADLINE_SECONDS = 5


def _base_scope(kind: str, path: str, host: str) -> dict[str, Any]:
    return {
        "type": kind,
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": "ws" if kind == "websocket" else "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", host.encode())],
        "state": {},
    }


def websocket_scope(path: str, host: str = "testserver") -> dict[str, Any]:
    return {**_base_scope("websocket", path, host), "subprotocols": []}


async def call_http(
    app: Any,
    method: str,
    path: str,
    body: bytes = b"",
    on_send: Callable[[Message], Any] | None = None,
) -> list[Message]:
    """One http request, body in one message; the client then stays until the app is done."""
    scope = {**_base_scope("http", path, "testserver"), "method": method}
    if body:
        scope["headers"] = [*scope["headers"], (b"content-length", str(len(body)).encode())]
    sent: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(DEADLINE_SECONDS)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if on_send is not None:
            result = on_send(message)
            if inspect.isawaitable(result):
                await result

    await asyncio.wait_for(app(scope, receive, send), timeout=DEADLINE_SECONDS)
    return sent


async def call_gone(app: Any, method: str, path: str, body_length: int = 16) -> list[Message]:
    """A request from a client that disconnects before sending any of its body."""
    scope = {**_base_scope("http", path, "testserver"), "method": method}
    scope["headers"] = [
        *scope["headers"],
        (b"content-type", b"application/json"),
        (b"content-length", str(body_length).encode()),
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), timeout=DEADLINE_SECONDS)
    return sent


async def drive_websocket(
    app: Any, path: str, texts: Sequence[str] = (), host: str = "testserver"
) -> list[Message]:
    """Connect, send ``texts``, and disconnect once the app answered each or closed.

    Returns every message the app sent.
    """
    sent: list[Message] = []
    pending = list(texts)
    done = asyncio.Event()
    connected = False

    async def receive() -> Message:
        nonlocal connected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        if pending:
            return {"type": "websocket.receive", "text": pending.pop(0)}
        await done.wait()
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)
        answered = sum(m["type"] == "websocket.send" for m in sent)
        if message["type"] == "websocket.close" or (texts and answered >= len(texts)):
            done.set()

    await asyncio.wait_for(app(websocket_scope(path, host), receive, send), DEADLINE_SECONDS)
    return sent


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels``, from /metrics text."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None
