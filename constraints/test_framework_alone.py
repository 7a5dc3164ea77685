"""In a framework environment of tox (`tox -e py311-quart-latest`...), that framework is alone.

Run there only: tox sets TIFFIN_FRAMEWORK to the framework it installed. Starlette is
tiffin's own dependency, so it is present everywhere; FastAPI and Quart never are
unless the environment is theirs.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys

import pytest

FRAMEWORK = os.environ.get("TIFFIN_FRAMEWORK", "")
OPTIONAL = ("fastapi", "quart")  # starlette: a dependency of tiffin itself


@pytest.fixture(autouse=True, scope="module")
def in_a_framework_environment() -> None:
    if FRAMEWORK not in ("fastapi", "quart", "starlette"):
        raise pytest.UsageError(
            "constraints/test_framework_alone.py runs in tox's framework environments "
            "(TIFFIN_FRAMEWORK=fastapi|quart|starlette), e.g. tox -e py311-quart-latest"
        )


def test_only_this_framework_is_importable() -> None:
    importable = {name for name in (*OPTIONAL, "starlette") if importlib.util.find_spec(name)}
    assert importable == {FRAMEWORK, "starlette"}


def test_the_other_frameworks_fail_to_import() -> None:
    for name in OPTIONAL:
        if name != FRAMEWORK:
            with pytest.raises(ModuleNotFoundError):
                importlib.import_module(name)


def test_tiffin_serves_without_the_absent_frameworks() -> None:
    # A fresh interpreter: tiffin, its harness and its conformance suite load, and a service
    # mounting a bare ASGI app starts and answers, with no other framework imported.
    code = """
import asyncio, sys
import httpx
import tiffin, tiffin.testing, tiffin.conformance
from tiffin.testing import ServiceClient

async def app(scope, receive, send):
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"bare"})

@tiffin.asgi_app(app, path="/v1")
@tiffin.service
class Alone:
    @tiffin.api
    async def hello(self) -> str:
        return "hi"

async def main():
    async with ServiceClient(Alone) as client:
        assert (await client.post("/hello", json={})).text == "hi"
        assert (await client.get("/v1/x")).text == "bare"

asyncio.run(main())
print(sorted(m for m in ("fastapi", "quart") if m in sys.modules))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def floor_pin(name: str) -> str | None:
    """The version the lowest constraints pin ``name`` to, where tox set them (lowest envs)."""
    constraints = os.environ.get("PIP_CONSTRAINT")
    if not constraints:
        return None
    with open(constraints) as lines:
        pins = dict(
            line.strip().split("==", 1) for line in lines if "==" in line and line[0] != "#"
        )
    return pins.get(name)


def test_the_lowest_environment_has_the_framework_at_its_floor() -> None:
    installed = importlib.metadata.version(FRAMEWORK)
    assert floor_pin(FRAMEWORK) in (None, installed)
