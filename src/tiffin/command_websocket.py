"""Websockets through the ``__command__`` proxy (httpx-ws; BentoML's proxy has none).

The client's handshake is answered only once the command accepted the same path,
with the subprotocol the command chose; then messages flow both ways until
either side closes, and the close code goes on to the other side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.types import Receive, Scope, Send

logger = logging.getLogger("tiffin")

# The handshake headers a websocket server reads; the rest belong to the connection.
FORWARDED = frozenset({b"sec-websocket-protocol", b"cookie", b"authorization", b"origin"})


async def proxy_websocket(
    base_url: str, path: str, scope: Scope, receive: Receive, send: Send
) -> None:
    try:
        import httpx
        from httpx_ws import WebSocketDisconnect, aconnect_ws
    except ImportError:  # pragma: no cover - httpx-ws comes with tiffin[test]
        logger.error("a websocket to the command needs httpx-ws: pip install httpx-ws")
        await send({"type": "websocket.close", "code": 1011})
        return
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    query = scope.get("query_string", b"").decode("latin-1")
    url = base_url.replace("http", "ws", 1) + path + (f"?{query}" if query else "")
    headers = {
        k.decode("latin-1"): v.decode("latin-1")
        for k, v in scope["headers"]
        if k.lower() in FORWARDED
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=None) as client:
        try:
            connection: Any = aconnect_ws(url, client, headers=headers)
            session = await connection.__aenter__()
        except Exception as exc:
            logger.error("the command refused a proxied websocket on %s: %s", path, exc)
            await send({"type": "websocket.close", "code": 1011})
            return
        try:
            subprotocol = (
                session.response.headers.get("sec-websocket-protocol") if session.response else None
            )
            await send({"type": "websocket.accept", "subprotocol": subprotocol})
            await _pump(session, receive, send, WebSocketDisconnect)
        finally:
            with contextlib.suppress(Exception):
                await connection.__aexit__(None, None, None)


async def _pump(session: Any, receive: Receive, send: Send, disconnect: type[Exception]) -> None:
    async def client_to_command() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                with contextlib.suppress(Exception):
                    await session.close(message.get("code", 1000))
                return
            if message.get("text") is not None:
                await session.send_text(message["text"])
            elif message.get("bytes") is not None:
                await session.send_bytes(message["bytes"])

    async def command_to_client() -> None:
        try:
            while True:
                data = await session.receive()
                if isinstance(data.data, str):
                    await send({"type": "websocket.send", "text": data.data})
                else:
                    await send({"type": "websocket.send", "bytes": bytes(data.data)})
        except disconnect as exc:
            await send({"type": "websocket.close", "code": getattr(exc, "code", 1000) or 1000})

    tasks = [asyncio.create_task(client_to_command()), asyncio.create_task(command_to_client())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
