"""The Quart example answers as its README says: in-process and over `tiffin serve`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from examples.quart_mount.service import MyService
from tests.serving import serving


@pytest.fixture(scope="module")
def served_url() -> Iterator[str]:
    with serving("examples/quart_mount/service.py:MyService") as server:
        yield server.url


@pytest.mark.tiffin_service(MyService)
async def test_the_readme_through_the_harness(tiffin_client: httpx.AsyncClient, readme) -> None:
    await readme.replay(tiffin_client)


async def test_the_readme_over_tiffin_serve(served_url: str, readme) -> None:
    async with httpx.AsyncClient(base_url=served_url) as client:
        await readme.replay(client)


@pytest.mark.tiffin_service(MyService, name="Test")
async def test_the_route_sees_the_running_service(tiffin_client: httpx.AsyncClient) -> None:
    response = await tiffin_client.get("/v1/hello")
    assert (response.status_code, response.text) == (200, "Hello, Test")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
