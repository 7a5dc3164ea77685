"""The harness driven directly: streaming, disconnects, websockets, overrides, deadlines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import httpx_ws
import pytest

from tests.testing.sample_services import (
    EVENTS,
    SENT,
    BrokenMount,
    HungMount,
    Recorder,
    SlowAPI,
    app,
    settings,
)
from tiffin.exceptions import StartupError
from tiffin.testing import DeadlineExceeded, HarnessSettings, ServiceClient, WrongEventLoop


@pytest.fixture(autouse=True)
def clear_events() -> None:
    EVENTS.clear()


async def read_events(client: httpx.AsyncClient, count: int) -> list[str]:
    events: list[str] = []
    async with client.stream("GET", "/v1/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line:
                events.append(line)
            if len(events) == count:
                break
    return events


async def assert_stream_stops(within: float = 2.0) -> None:
    """The handler stopped: the number of events it produced no longer grows."""
    deadline = time.monotonic() + within
    while True:
        before = SENT["events"]
        await asyncio.sleep(0.05)
        if SENT["events"] == before:
            return
        assert time.monotonic() < deadline, "the stream kept producing after the disconnect"


@pytest.mark.tiffin_service(Recorder, streaming=True)
@pytest.mark.parametrize("tiffin_transport", ["inprocess", "live"])
async def test_an_endless_stream_is_read_three_events_and_closed(
    tiffin_client: httpx.AsyncClient,
) -> None:
    assert await read_events(tiffin_client, 3) == ["data: 1", "data: 2", "data: 3"]
    await assert_stream_stops()  # the client went away: the handler stopped


async def test_a_disconnect_stops_the_handler_in_process() -> None:
    async with ServiceClient(Recorder, streaming=True) as client:
        async with client.stream("GET", "/v1/events") as response:
            chunk = await response.aiter_bytes().__anext__()
            assert chunk.startswith(b"data: 1")
            await asyncio.sleep(0.02)
            assert SENT["events"] > 1  # the handler runs on while the body is being read
        # Leaving the block sends http.disconnect; the handler stops, no task is left running.
        await assert_stream_stops(within=0.5)
        assert EVENTS.count("stream started") == 1


async def test_the_buffering_transport_answers_whole_bodies() -> None:
    async with ServiceClient(Recorder) as client:
        response = await client.post("/greet", json={"who": "Ann"})
        assert (response.status_code, response.text) == (200, "Hello Ann")


@pytest.mark.tiffin_service(Recorder, greeting="Ahoy")
@pytest.mark.parametrize("tiffin_transport", ["inprocess", "live"])
async def test_a_websocket_sees_the_service_and_the_middleware(
    tiffin_client: httpx.AsyncClient,
) -> None:
    async with httpx_ws.aconnect_ws("/v1/echo", tiffin_client) as ws:
        assert await ws.receive_text() == "welcome from Ahoy"  # get_current_service()
        await ws.send_text("ping")
        assert await ws.receive_text() == "middleware: ping"  # the user middleware ran
        await ws.send_text("bye")
        with pytest.raises(httpx_ws.WebSocketDisconnect):
            await ws.receive_text()


async def test_overrides_apply_for_one_client_and_are_restored() -> None:
    async with ServiceClient(
        Recorder,
        greeting="Howdy",
        traffic={"timeout": 3},
        dependency_overrides={settings: lambda: {"mode": "test"}},
    ) as client:
        assert (await client.get("/v1/hello")).json() == "Howdy from Recorder"
        assert (await client.get("/v1/settings")).json() == {"mode": "test"}
    assert Recorder.greeting == "Hello"
    assert app.dependency_overrides == {}
    async with ServiceClient(Recorder) as client:
        assert (await client.get("/v1/settings")).json() == {"mode": "production"}


async def test_an_unknown_override_is_an_error_naming_it() -> None:
    with pytest.raises(TypeError, match="has no attribute 'gretting'"):
        async with ServiceClient(Recorder, gretting="typo"):
            pass
    assert EVENTS == []


async def test_shutdown_runs_when_the_body_fails() -> None:
    with pytest.raises(ZeroDivisionError):
        async with ServiceClient(Recorder):
            1 / 0  # noqa: B018
    assert EVENTS == ["service startup", "app startup", "app shutdown", "service shutdown"]


async def test_a_startup_failure_surfaces_at_once_with_the_mount_and_cause() -> None:
    started = time.monotonic()
    with pytest.raises(StartupError) as failure:
        async with ServiceClient(BrokenMount):
            pass
    assert time.monotonic() - started < 0.2
    message = str(failure.value)
    assert "'/models'" in message
    assert "model weights not found at /models/missing.bin" in message


async def test_a_hung_mount_lifespan_fails_with_its_deadline_naming_the_mount() -> None:
    quick = HarnessSettings(startup_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as failure:
        async with ServiceClient(HungMount, settings=quick):
            pass
    assert time.monotonic() - started < 1.5
    message = str(failure.value)
    assert "the startup of service 'HungMount' did not finish within 0.2s" in message
    assert "app mounted at '/slow'" in message
    assert "hung_lifespan()" in message


async def test_a_hung_request_fails_with_its_deadline_naming_the_handler() -> None:
    quick = HarnessSettings(request_timeout=0.2)
    async with ServiceClient(SlowAPI, settings=quick) as client:
        with pytest.raises(DeadlineExceeded) as failure:
            await client.post("/wait")
    message = str(failure.value)
    assert "the request POST /wait did not finish within 0.2s" in message
    assert "wait()" in message


def test_a_client_used_on_another_loop_fails_at_once() -> None:
    holder: dict[str, Any] = {}

    async def start() -> None:
        holder["cm"] = ServiceClient(Recorder)
        holder["client"] = await holder["cm"].__aenter__()

    async def use(call: Callable[[], Any]) -> None:
        await asyncio.wait_for(call(), timeout=2)

    first = asyncio.new_event_loop()
    second = asyncio.new_event_loop()
    try:
        first.run_until_complete(start())
        with pytest.raises(WrongEventLoop, match="a fixture on the wrong event loop"):
            second.run_until_complete(use(lambda: holder["client"].get("/v1/hello")))
        first.run_until_complete(holder["cm"].__aexit__(None, None, None))
    finally:
        first.close()
        second.close()
    assert EVENTS[-1] == "service shutdown"
