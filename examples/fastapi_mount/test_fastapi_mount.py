"""The FastAPI example answers as its README says: in-process and over `tiffin serve`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from examples.fastapi_mount.service import MyService
from tests.serving import serving


@pytest.fixture(scope="module")
def served_url() -> Iterator[str]:
    with serving("examples/fastapi_mount/service.py:MyService") as server:
        yield server.url


@pytest.mark.tiffin_service(MyService)
async def test_the_readme_through_the_harness(tiffin_client: httpx.AsyncClient, readme) -> None:
    await readme.replay(tiffin_client)


async def test_the_readme_over_tiffin_serve(served_url: str, readme) -> None:
    async with httpx.AsyncClient(base_url=served_url) as client:
        await readme.replay(client)


@pytest.mark.tiffin_service(MyService, name="Test")
async def test_both_routes_see_the_running_service(tiffin_client: httpx.AsyncClient) -> None:
    inside = await tiffin_client.get("/v1/hello")  # defined in the class: `self`
    outside = await tiffin_client.get("/v1/hello1")  # outside: Depends(get_current_service)
    assert (inside.status_code, inside.json()) == (200, "Hello Test")
    assert (outside.status_code, outside.json()) == (200, "Hello Test")


@pytest.mark.tiffin_service(MyService)
async def test_self_is_not_a_parameter_in_the_docs(tiffin_client: httpx.AsyncClient) -> None:
    paths = (await tiffin_client.get("/docs.json")).json()["paths"]
    assert {"/greet", "/v1/hello", "/v1/hello1"} <= set(paths)
    assert "parameters" not in paths["/v1/hello"]["get"]


async def test_the_client_factory_serves_a_block_of_the_test(tiffin_client_factory) -> None:
    async with tiffin_client_factory(MyService, name="Factory") as client:
        greeting = await client.post("/greet", json={"who": "me"})
    assert (greeting.status_code, greeting.text) == (200, "Hello me, from Factory")
    assert MyService.name == "MyService"  # the override lasts as long as the block
