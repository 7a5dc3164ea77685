"""The FastAPI app every contender serves: two trivial GET routes (async and sync).

``build("/v1", with_posts=True, with_readyz=True)`` is contender (b), the FastAPI
app alone on uvicorn, with POST routes doing what the services' ``@api``
endpoints do (validate ``{"text": ...}`` with pydantic, answer it as text).
``build()`` is the app the services mount at ``/v1``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel


class EchoInput(BaseModel):
    text: str = "hello"


def build(prefix: str = "", *, with_posts: bool = False, with_readyz: bool = False) -> FastAPI:
    app = FastAPI()

    @app.get(prefix + "/async")
    async def get_async() -> dict[str, str]:
        return {"message": "hello"}

    @app.get(prefix + "/sync")
    def get_sync() -> dict[str, str]:
        return {"message": "hello"}

    if with_posts:

        @app.post("/echo_async", response_class=PlainTextResponse)
        async def echo_async(body: EchoInput) -> str:
            return body.text

        @app.post("/echo_sync", response_class=PlainTextResponse)
        def echo_sync(body: EchoInput) -> str:
            return body.text

    if with_readyz:

        @app.get("/readyz", response_class=PlainTextResponse)
        async def readyz() -> str:
            return "\n"

    return app


app = build("/v1", with_posts=True, with_readyz=True)
