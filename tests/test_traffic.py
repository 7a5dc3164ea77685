"""CONTRACT section 6: timeout, max_concurrency and max_body_size."""

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from quart import Quart

import tiffin
from tests.asgi import call_http
from tests.conftest import running_client

GATE_TIMEOUT = 5  # a safety net so a broken test fails instead of hanging


def timeout_body(number: str) -> dict[str, str]:
    return {"error": f"Not able to process the request in {number} seconds"}


# --- timeout -----------------------------------------------------------------------------


@pytest.mark.parametrize(("timeout", "shown"), [(0.3, "0.3"), (0.5, "0.5"), (1, "1")])
async def test_timeout_answers_504_with_the_configured_number(timeout: float, shown: str) -> None:
    @tiffin.service(traffic={"timeout": timeout})
    class Slow:
        @tiffin.api
        async def wait(self) -> str:
            await asyncio.sleep(10)
            return "late"

    async with running_client(Slow) as client:
        response = await client.post("/wait")

    assert response.status_code == 504
    assert response.headers["content-type"] == "application/json"
    assert response.json() == timeout_body(shown)


async def test_timeout_cancels_an_async_api() -> None:
    events: list[str] = []

    @tiffin.service(traffic={"timeout": 0.2})
    class Slow:
        @tiffin.api
        async def wait(self) -> str:
            events.append("started")
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                events.append("cancelled")
                raise
            finally:
                events.append("finally")
            return "late"

    async with running_client(Slow) as client:
        response = await client.post("/wait")

    assert response.status_code == 504
    assert events == ["started", "cancelled", "finally"]


async def test_timeout_answers_504_while_a_sync_api_is_still_blocked() -> None:
    release = threading.Event()
    returned = threading.Event()
    events: list[str] = []

    @tiffin.service(traffic={"timeout": 0.2})
    class Slow:
        @tiffin.api
        def wait(self) -> str:
            release.wait(GATE_TIMEOUT)
            events.append("handler returned")
            returned.set()
            return "late"

    def on_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            events.append(f"response {message['status']}")
            release.set()

    app = Slow.to_asgi()
    async with app.running():
        sent = await call_http(app, "POST", "/wait", on_send=on_send)
        await asyncio.to_thread(returned.wait, GATE_TIMEOUT)

    # the 504 went out while the thread was still blocked; nothing else reached the client
    assert events == ["response 504", "handler returned"]
    assert [m["type"] for m in sent].count("http.response.start") == 1
    assert b"".join(m.get("body", b"") for m in sent[1:]) == (
        b'{"error":"Not able to process the request in 0.2 seconds"}'
    )


async def test_timeout_covers_a_mounted_fastapi_async_route() -> None:
    events: list[str] = []
    fastapi_app = FastAPI()

    @fastapi_app.get("/slow")
    async def slow() -> dict[str, str]:
        try:
            await asyncio.sleep(10)
        finally:
            events.append("finally")
        return {"late": "yes"}

    @tiffin.service(traffic={"timeout": 0.2})
    @tiffin.mount_asgi_app(fastapi_app, path="/v1")
    class Mounted:
        pass

    async with running_client(Mounted) as client:
        response = await client.get("/v1/slow")

    assert response.status_code == 504
    assert response.json() == timeout_body("0.2")
    assert events == ["finally"]


async def test_timeout_covers_a_mounted_fastapi_sync_route() -> None:
    release = threading.Event()
    returned = threading.Event()
    events: list[str] = []
    fastapi_app = FastAPI()

    @fastapi_app.get("/slow")
    def slow() -> dict[str, str]:
        release.wait(GATE_TIMEOUT)
        events.append("handler returned")
        returned.set()
        return {"late": "yes"}

    @tiffin.service(traffic={"timeout": 0.2})
    @tiffin.mount_asgi_app(fastapi_app, path="/v1")
    class Mounted:
        pass

    def on_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            events.append(f"response {message['status']}")
            release.set()

    app = Mounted.to_asgi()
    async with app.running():
        sent = await call_http(app, "GET", "/v1/slow", on_send=on_send)
        await asyncio.to_thread(returned.wait, GATE_TIMEOUT)

    assert events == ["response 504", "handler returned"]
    assert b"".join(m.get("body", b"") for m in sent[1:]) == (
        b'{"error":"Not able to process the request in 0.2 seconds"}'
    )


async def test_timeout_covers_a_mounted_quart_route() -> None:
    events: list[str] = []
    quart_app = Quart(__name__)

    @quart_app.get("/slow")
    async def slow() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        return "late"

    @tiffin.service(traffic={"timeout": 0.2})
    @tiffin.mount_asgi_app(quart_app, path="/q")
    class Mounted:
        pass

    async with running_client(Mounted) as client:
        response = await client.get("/q/slow")
        # Quart runs its handler in a task of its own: give the cancellation a moment to land
        for _ in range(200):
            if events:
                break
            await asyncio.sleep(0.01)

    assert response.status_code == 504
    assert response.json() == timeout_body("0.2")
    assert events == ["cancelled"]


async def test_timeout_covers_a_bare_asgi_mount() -> None:
    async def bare(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(10)

    @tiffin.service(traffic={"timeout": 0.2})
    @tiffin.mount_asgi_app(bare, path="/bare")
    class Mounted:
        pass

    async with running_client(Mounted) as client:
        response = await client.get("/bare/anything")

    assert response.status_code == 504
    assert response.json() == timeout_body("0.2")


async def test_to_asgi_traffic_overrides_the_decorator_timeout() -> None:
    @tiffin.service(traffic={"timeout": 30})
    class Slow:
        @tiffin.api
        async def wait(self) -> str:
            await asyncio.sleep(10)
            return "late"

    app = Slow.to_asgi(traffic={"timeout": 0.25})
    async with running_client(app) as client:
        response = await asyncio.wait_for(client.post("/wait"), timeout=3)

    assert response.status_code == 504
    assert response.json() == timeout_body("0.25")


async def test_a_fast_response_is_not_affected_by_the_timeout() -> None:
    @tiffin.service(traffic={"timeout": 0.3})
    class Fast:
        @tiffin.api
        async def hello(self) -> str:
            return "hi"

    async with running_client(Fast) as client:
        response = await client.post("/hello")
        await asyncio.sleep(0.4)  # the timer of the finished request must not fire later
        again = await client.post("/hello")

    assert (response.status_code, response.text) == (200, "hi")
    assert (again.status_code, again.text) == (200, "hi")


async def test_a_started_streaming_response_is_not_cut_by_the_timeout() -> None:
    @tiffin.service(traffic={"timeout": 0.2})
    class Streaming:
        @tiffin.api
        async def stream(self) -> AsyncIterator[str]:
            yield "a"
            await asyncio.sleep(0.4)
            yield "b"

    async with running_client(Streaming) as client:
        response = await client.post("/stream")

    assert response.status_code == 200
    assert response.text == "ab"


# --- errors before the first byte ------------------------------------------------------


async def test_an_api_that_raises_gets_an_immediate_500_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @tiffin.service(traffic={"timeout": 5})
    class Broken:
        @tiffin.api
        async def boom(self) -> str:
            raise RuntimeError("kaboom in the handler")

    began = time.monotonic()
    with caplog.at_level(logging.ERROR):
        async with running_client(Broken) as client:
            response = await client.post("/boom")
    elapsed = time.monotonic() - began

    assert response.status_code == 500
    assert response.json() == {
        "error": "An unexpected error has occurred, please check the server log."
    }
    assert elapsed < 2
    assert any(
        record.exc_info is not None and "kaboom in the handler" in str(record.exc_info[1])
        for record in caplog.records
    )


async def test_a_mounted_app_that_raises_before_responding_gets_an_immediate_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def bare(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            raise ValueError("bare app exploded")

    @tiffin.service(traffic={"timeout": 5})
    @tiffin.mount_asgi_app(bare, path="/bare")
    class Mounted:
        pass

    began = time.monotonic()
    with caplog.at_level(logging.ERROR):
        async with running_client(Mounted) as client:
            response = await client.get("/bare/x")
    elapsed = time.monotonic() - began

    assert response.status_code == 500
    assert response.json() == {
        "error": "An unexpected error has occurred, please check the server log."
    }
    assert elapsed < 2
    assert "bare app exploded" in caplog.text


# --- max_concurrency ---------------------------------------------------------------------


def blocking_service(**service_options: Any) -> tuple[Any, asyncio.Event, asyncio.Event]:
    entered = asyncio.Event()
    release = asyncio.Event()

    @tiffin.service(**service_options)
    class Busy:
        @tiffin.api
        async def block(self) -> str:
            entered.set()
            await asyncio.wait_for(release.wait(), GATE_TIMEOUT)
            return "done"

        @tiffin.api
        async def other(self) -> str:
            return "other"

    return Busy, entered, release


async def test_past_max_concurrency_an_immediate_429_with_retry_after() -> None:
    service, entered, release = blocking_service(traffic={"max_concurrency": 1, "timeout": 5})

    async with running_client(service) as client:
        first = asyncio.create_task(client.post("/block"))
        await asyncio.wait_for(entered.wait(), GATE_TIMEOUT)
        began = time.monotonic()
        second = await client.post("/other")
        elapsed = time.monotonic() - began
        release.set()
        first_response = await first
        third = await client.post("/other")

    assert second.status_code == 429
    assert second.json() == {"error": "Too many requests"}
    assert "retry-after" in second.headers
    assert elapsed < 2
    assert (first_response.status_code, first_response.text) == (200, "done")
    assert (third.status_code, third.text) == (200, "other")


async def test_requests_under_the_limit_are_all_served() -> None:
    service, entered, release = blocking_service(traffic={"max_concurrency": 3, "timeout": 5})

    async with running_client(service) as client:
        first = asyncio.create_task(client.post("/block"))
        await asyncio.wait_for(entered.wait(), GATE_TIMEOUT)
        others = [await client.post("/other"), await client.post("/other")]
        release.set()
        first_response = await first

    assert [r.status_code for r in others] == [200, 200]
    assert first_response.status_code == 200


@pytest.mark.parametrize("prefix", [None, "/pp"])
@pytest.mark.parametrize("probe", ["/livez", "/healthz", "/readyz", "/metrics"])
async def test_probes_are_never_throttled(prefix: str | None, probe: str) -> None:
    service, entered, release = blocking_service(
        traffic={"max_concurrency": 1, "timeout": 5}, path_prefix=prefix
    )
    base = prefix or ""

    async with running_client(service) as client:
        first = asyncio.create_task(client.post(f"{base}/block"))
        await asyncio.wait_for(entered.wait(), GATE_TIMEOUT)
        probed = await client.get(f"{base}{probe}")
        throttled = await client.post(f"{base}/other")
        release.set()
        await first

    assert probed.status_code == 200
    assert throttled.status_code == 429


async def test_a_timed_out_sync_api_keeps_its_slot_until_its_thread_returns() -> None:
    release = threading.Event()
    returned = threading.Event()

    @tiffin.service(traffic={"max_concurrency": 1, "timeout": 0.2})
    class Stuck:
        @tiffin.api
        def stuck(self) -> str:
            try:
                release.wait(GATE_TIMEOUT)
            finally:
                returned.set()
            return "late"

        @tiffin.api
        async def other(self) -> str:
            return "other"

    async with running_client(Stuck) as client:
        timed_out = await client.post("/stuck")
        while_stuck = await client.post("/other")
        release.set()
        await asyncio.to_thread(returned.wait, GATE_TIMEOUT)
        after = None
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:  # the slot frees as the thread returns
            after = await client.post("/other")
            if after.status_code != 429:
                break
            await asyncio.sleep(0.01)

    assert timed_out.status_code == 504
    assert while_stuck.status_code == 429
    assert after is not None and (after.status_code, after.text) == (200, "other")


# --- max_body_size -----------------------------------------------------------------------


def body_limited_service(limit: int) -> Any:
    fastapi_app = FastAPI()

    @fastapi_app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    @tiffin.service(traffic={"max_body_size": limit})
    @tiffin.mount_asgi_app(fastapi_app, path="/v1")
    class Limited:
        @tiffin.api
        def echo(self, text: str = "") -> dict[str, int]:
            return {"received": len(text)}

    return Limited


async def chunks(produced: list[bytes], parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        produced.append(part)
        yield part


@pytest.mark.parametrize("path", ["/echo", "/v1/echo"])
async def test_a_body_over_the_declared_limit_gets_413(path: str) -> None:
    async with running_client(body_limited_service(20)) as client:
        response = await client.post(path, content=b'{"text": "' + b"x" * 50 + b'"}')

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["error"], str)


@pytest.mark.parametrize("path", ["/echo", "/v1/echo"])
async def test_a_streamed_body_over_the_limit_gets_413_and_is_read_no_further(path: str) -> None:
    produced: list[bytes] = []
    parts = [b'{"text": "', b"x" * 8, b"x" * 8, b"x" * 8, b"x" * 8, b'"}']

    async with running_client(body_limited_service(20)) as client:
        response = await client.post(path, content=chunks(produced, parts))

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["error"], str)
    assert len(produced) < len(parts)


@pytest.mark.parametrize("path", ["/echo", "/v1/echo"])
async def test_a_body_within_the_limit_is_served(path: str) -> None:
    async with running_client(body_limited_service(100)) as client:
        declared = await client.post(path, content=b'{"text": "hello"}')
        streamed = await client.post(path, content=chunks([], [b'{"text": ', b'"hello"}']))

    assert declared.status_code == 200
    assert streamed.status_code == 200


async def test_timeout_covers_infra_routes() -> None:
    @tiffin.service(traffic={"timeout": 0.2})
    class SlowProbe:
        async def __is_ready__(self) -> bool:
            await asyncio.sleep(10)
            return True

    async with running_client(SlowProbe) as client:
        response = await client.get("/readyz")
        live = await client.get("/livez")

    assert response.status_code == 504
    assert response.json() == timeout_body("0.2")
    assert live.status_code == 200
