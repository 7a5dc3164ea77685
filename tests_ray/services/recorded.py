"""The seed document's FastAPI example, recording each lifecycle step of every process.

The example's code is the seed's (tests/seed_blocks/fastapi_example.py), with an
``on_startup`` and an ``on_shutdown`` hook and a lifespan on the FastAPI app added.
Each step appends ``<pid> <step>`` to ``$TIFFIN_RAY_RECORDS/<pid>.log``, so a test
sees what every replica ran (replicas on one machine share the folder).
"""

import os
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI

import tiffin as bentoml

RECORDS_ENV = "TIFFIN_RAY_RECORDS"


def record(step: str) -> None:
    folder = Path(os.environ[RECORDS_ENV])
    with (folder / f"{os.getpid()}.log").open("a") as log:
        log.write(f"{step}\n")


@asynccontextmanager
async def lifespan(app):
    record("fastapi startup")
    yield
    record("fastapi shutdown")


app = FastAPI(lifespan=lifespan)


@bentoml.service
@bentoml.mount_asgi_app(app, path="/v1")
class MyService:
    name = "MyService"

    @app.get("/hello")
    def hello(self):  # Inside service class, use `self` to access the service
        return f"Hello {self.name}"

    @bentoml.on_startup
    def started(self):
        record("on_startup")

    @bentoml.on_shutdown
    def stopped(self):
        record("on_shutdown")


@app.get("/hello1")
async def hello(service: MyService = Depends(bentoml.get_current_service)):  # noqa: B008
    # Outside service class, use `Depends` to get the service
    return f"Hello {service.name}"
