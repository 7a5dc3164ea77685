"""Shared test helpers: an in-process client over the whole lifespan, and a spy for ASGI events."""

from __future__ import annotations

import sys
import types
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

import tiffin


@asynccontextmanager
async def running_client(
    service: tiffin.Service[Any] | Any,
    *,
    base_url: str = "http://testserver",
    traffic: dict[str, Any] | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """Compose ``service``, run its lifespan, and yield a client over ``httpx.ASGITransport``."""
    app = service.to_asgi(traffic=traffic) if isinstance(service, tiffin.Service) else service
    async with LifespanManager(app, startup_timeout=10, shutdown_timeout=10) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


@pytest.fixture
def fake_transformers(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A ``transformers`` module whose ``pipeline`` is a tiny stand-in (no model download)."""
    from tests.fake_packages import transformers

    monkeypatch.setitem(sys.modules, "transformers", transformers)
    return transformers


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Under anyio's plugin (tox's anyio environment) the suite runs on asyncio, as tiffin
    serves; with trio installed (the dev extra, for the harness's trio test, which picks
    trio itself) anyio would otherwise run every async test on both."""
    return "asyncio"
