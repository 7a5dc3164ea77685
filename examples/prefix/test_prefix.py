"""The prefix example answers as its README says: in-process and over `tiffin serve`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from examples.prefix.service import MyService
from tests.serving import serving


@pytest.fixture(scope="module")
def served_url() -> Iterator[str]:
    with serving("examples/prefix/service.py:MyService") as server:
        yield server.url


@pytest.mark.tiffin_service(MyService)
async def test_the_readme_through_the_harness(tiffin_client: httpx.AsyncClient, readme) -> None:
    await readme.replay(tiffin_client)


async def test_the_readme_over_tiffin_serve(served_url: str, readme) -> None:
    async with httpx.AsyncClient(base_url=served_url) as client:
        await readme.replay(client)


@pytest.mark.tiffin_service(MyService)
async def test_the_docs_list_the_route_under_its_prefix(tiffin_client: httpx.AsyncClient) -> None:
    paths = (await tiffin_client.get("/docs.json")).json()["paths"]
    assert "/fastapi/hello" in paths
    assert "/hello" not in paths
