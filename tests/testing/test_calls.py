"""``client.call(api_name, **inputs)`` and ``raise_server_exceptions`` on both clients."""

from __future__ import annotations

import pytest

from tests.testing.sample_services import Calls
from tiffin.testing import ServiceClient

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider
"""


def run(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    pytester.makeini(INI)
    pytester.makepyfile(
        "import pytest\nfrom tests.testing.sample_services import Calls\n"
        "from tiffin.testing import APIError\n" + body
    )
    return pytester.runpytest()


def test_call_in_async_and_sync_tests_in_process_and_live(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.asyncio
@pytest.mark.tiffin_service(Calls, raise_server_exceptions=False)
@pytest.mark.parametrize("tiffin_transport", ["inprocess", "live"])
async def test_async(tiffin_client):
    assert await tiffin_client.call("add", a=1, b=2) == {"sum": 3}      # JSON
    assert await tiffin_client.call("shout", text="hi") == "HI"          # text
    assert await tiffin_client.call("raw") == b"\\x00\\x01"              # bytes, at /raw/bytes
    with pytest.raises(APIError) as failed:
        await tiffin_client.call("add", a="one", b=2)
    assert failed.value.status_code == 400
    assert b"a" in failed.value.body

@pytest.mark.tiffin_service(Calls, raise_server_exceptions=False)
@pytest.mark.parametrize("tiffin_transport", ["inprocess", "live"])
def test_sync(tiffin_sync_client):
    assert tiffin_sync_client.call("add", a=1, b=2) == {"sum": 3}
    with pytest.raises(APIError, match="API 'fail' answered 500") as failed:
        tiffin_sync_client.call("fail")
    assert failed.value.status_code == 500
"""
    run(pytester, body).assert_outcomes(passed=4)


async def test_an_unknown_api_name_lists_the_apis() -> None:
    async with ServiceClient(Calls) as client:
        with pytest.raises(ValueError, match="service 'Calls' has no API 'sum'; its APIs: 'add'"):
            await client.call("sum", a=1)


def test_server_exceptions_are_raised_in_the_test_by_default(pytester: pytest.Pytester) -> None:
    body = """
transports = pytest.mark.parametrize("tiffin_transport", ["inprocess", "live"])

@transports
@pytest.mark.tiffin_service(Calls)
def test_raised(tiffin_sync_client):
    with pytest.raises(ValueError, match="the model exploded"):
        tiffin_sync_client.post("/fail", json={})

@transports
@pytest.mark.asyncio
@pytest.mark.tiffin_service(Calls)
async def test_raised_async(tiffin_client):
    with pytest.raises(ValueError, match="the model exploded"):
        await tiffin_client.call("fail")

@transports
@pytest.mark.tiffin_service(Calls, raise_server_exceptions=False)
def test_the_500(tiffin_sync_client):
    response = tiffin_sync_client.post("/fail", json={})
    assert response.status_code == 500
    assert "unexpected error" in response.json()["error"]
"""
    run(pytester, body).assert_outcomes(passed=6)


async def test_an_exception_in_a_mounted_app_is_raised_too() -> None:
    from fastapi import FastAPI

    import tiffin

    app = FastAPI()

    @app.get("/boom")
    def boom() -> str:
        raise KeyError("missing")

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Mounted:
        pass

    for transport in ("inprocess", "live"):
        async with ServiceClient(Mounted, transport=transport) as client:
            # FastAPI sends its 500 before it re-raises: live, the client waits for the raise
            with pytest.raises(KeyError, match="missing"):
                await client.get("/v1/boom")
        options = {"transport": transport, "raise_server_exceptions": False}
        async with ServiceClient(Mounted, **options) as client:
            assert (await client.get("/v1/boom")).status_code == 500
