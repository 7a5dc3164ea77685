"""Four mounted apps, one per framework, any of whose lifespans can be made to fail.

``TIFFIN_TEST_FAULT=<kind>:<phase>`` (kind: fastapi, quart, starlette, bare;
phase: startup, shutdown) plants the fault. Every step prints one line
(``step: <kind> started``) so a test can see what ran, in which order.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from quart import Quart
from starlette.applications import Starlette

import tiffin

FAULT = os.environ.get("TIFFIN_TEST_FAULT", "")


def step(kind: str, phase: str) -> None:
    if FAULT == f"{kind}:{phase}":
        raise FileNotFoundError(f"planted {phase} fault in the {kind} app")
    print(f"step: {kind} {'started' if phase == 'startup' else 'stopped'}", flush=True)


def context_lifespan(kind: str) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        step(kind, "startup")
        yield
        step(kind, "shutdown")

    return lifespan


fastapi_app = FastAPI(lifespan=context_lifespan("fastapi"))
starlette_app = Starlette(lifespan=context_lifespan("starlette"))
quart_app = Quart(__name__)


@quart_app.before_serving
async def quart_startup() -> None:
    step("quart", "startup")


@quart_app.after_serving
async def quart_shutdown() -> None:
    step("quart", "shutdown")


async def bare_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "lifespan":
        return
    await receive()
    step("bare", "startup")
    await send({"type": "lifespan.startup.complete"})
    await receive()
    step("bare", "shutdown")
    await send({"type": "lifespan.shutdown.complete"})


@tiffin.service
@tiffin.mount_asgi_app(fastapi_app, path="/fastapi")
@tiffin.mount_asgi_app(quart_app, path="/quart")
@tiffin.mount_asgi_app(starlette_app, path="/starlette")
@tiffin.mount_asgi_app(bare_app, path="/bare")
class LifespanFaults:
    @tiffin.on_startup
    def hook_started(self) -> None:
        print("step: hook started", flush=True)

    @tiffin.on_shutdown
    def hook_stopped(self) -> None:
        print("step: hook stopped", flush=True)
