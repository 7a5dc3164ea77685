"""The outermost layer: no exception reaches the server, no traceback reaches the client.

An exception before the response has started answers ``500`` with the generic
JSON body at once; after it has started, the response is cut short (there is
nothing else to say over HTTP). Either way the exception is logged once, here.
Starlette's ``ClientDisconnect`` is no error of the server: the client went away
while its body was read, so there is no one to answer and nothing to log.
A test harness that wants the exception itself (``raise_server_exceptions``, as
Starlette's ``TestClient``) passes a list as the scope's
``extensions["tiffin.server_exceptions"]``; the guard appends to it.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiffin.responses import GENERIC_ERROR, json_error

logger = logging.getLogger("tiffin")


class ErrorGuardMiddleware:
    def __init__(self, app: ASGIApp, service_name: str) -> None:
        self.app = app
        self.service_name = service_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._guard_websocket(scope, receive, send)
            return
        started = False

        async def send_watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_watched)
        except ClientDisconnect:
            pass
        except Exception as exc:
            _hand_to_harness(scope, exc)
            logger.exception(
                "service %r: unhandled error in %s %s",
                self.service_name,
                scope.get("method"),
                scope.get("path"),
            )
            if not started:
                await json_error(500, GENERIC_ERROR)(scope, receive, send)

    async def _guard_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            _hand_to_harness(scope, exc)
            logger.exception(
                "service %r: unhandled error in websocket %s", self.service_name, scope.get("path")
            )


def _hand_to_harness(scope: Scope, exc: Exception) -> None:
    sink = (scope.get("extensions") or {}).get("tiffin.server_exceptions")
    if isinstance(sink, list):
        sink.append(exc)
