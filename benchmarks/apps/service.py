"""Contenders (c) and (d): one service source, served by ``tiffin serve`` and ``bentoml serve``.

The FastAPI app of ``fastapi_app.py`` is mounted at ``/v1`` next to two ``@api``
endpoints, with one user middleware, metrics (on by default in both) and a
request timeout. ``BENCH_IMPL=bentoml`` imports BentoML; anything else imports
tiffin under BentoML's name, the one line a user changes.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi_app import build

if os.environ.get("BENCH_IMPL") == "bentoml":
    import bentoml
else:
    import tiffin as bentoml

app = build()


class HeaderMiddleware:
    """A typical pure-ASGI user middleware: adds one response header."""

    def __init__(self, app: Any, name: str = "x-bench") -> None:
        self.app = app
        self.header = (name.encode(), b"1")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), self.header]}
            await send(message)

        await self.app(scope, receive, send_with_header)


@bentoml.service(traffic={"timeout": 10})
@bentoml.mount_asgi_app(app, path="/v1")
class BenchService:
    @bentoml.api
    async def echo_async(self, text: str = "hello") -> str:
        return text

    @bentoml.api
    def echo_sync(self, text: str = "hello") -> str:
        return text


BenchService.add_asgi_middleware(HeaderMiddleware)
