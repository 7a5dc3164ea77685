"""BentoML services the harness tests run; each records what happened in ``EVENTS``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import bentoml
from fastapi import Depends, FastAPI

EVENTS: list[str] = []


def record(event: str) -> None:
    EVENTS.append(event)
    log = os.environ.get("TIFFIN_TEST_EVENT_LOG")  # for a `bentoml serve` subprocess
    if log:
        with open(log, "a") as file:
            file.write(event + "\n")


@asynccontextmanager
async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
    record("app startup")
    yield
    record("app shutdown")


app = FastAPI(lifespan=app_lifespan)


async def bare_app(scope: Any, receive: Any, send: Any) -> None:
    """A bare ASGI app that fails before it answers (and does not speak lifespan)."""
    assert scope["type"] == "http"
    raise RuntimeError("the bare app failed")


@bentoml.service(traffic={"timeout": 10})
@bentoml.asgi_app(app, path="/v1")
@bentoml.asgi_app(bare_app, path="/bare")
class Recorder:
    greeting = "Hello"

    def __init__(self) -> None:
        record("init")

    @bentoml.on_deployment
    def deploy() -> None:
        record("deployment")

    @bentoml.on_startup
    def started(self) -> None:
        record("startup hook")

    @bentoml.on_shutdown
    def stopped(self) -> None:
        record("shutdown hook")

    @bentoml.api
    def greet(self, who: str = "you") -> str:
        return f"{self.greeting} {who}"

    @bentoml.api
    async def wait(self, seconds: float = 1.0) -> str:
        await asyncio.sleep(seconds)
        return "done"

    @app.get("/hello")
    def hello(self) -> str:
        return f"{self.greeting} from {type(self).__name__}"


@app.get("/fails")
def fails() -> str:
    raise RuntimeError("the route failed")


@app.get("/current")
def current(service: Annotated[Any, Depends(bentoml.get_current_service)]) -> str:
    return type(service).__name__


@bentoml.service
class Plain:
    @bentoml.api
    def ping(self) -> str:
        return "pong"


class ModelMissing(Exception):
    pass


@bentoml.service
class Broken:
    @bentoml.on_startup
    def load_model(self) -> None:
        raise ModelMissing("model weights not found at /models/missing.bin")

    @bentoml.on_shutdown
    def stopped(self) -> None:
        record("broken shutdown hook")

    @bentoml.api
    def ping(self) -> str:
        return "pong"


@bentoml.service
class Hanging:
    @bentoml.on_startup
    async def wait_for_gpu(self) -> None:
        await asyncio.sleep(3600)

    @bentoml.api
    def ping(self) -> str:
        return "pong"
