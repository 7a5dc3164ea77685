"""CONTRACT "Deliberate differences from BentoML 1.4.40": tiffin's side of each row."""

import asyncio
import logging
import textwrap
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from quart import Quart

import tiffin
from tests.asgi import metric_value
from tests.conftest import running_client
from tests.serving import served
from tiffin import exceptions

GATE_TIMEOUT = 5


async def test_inside_class_routes_get_self_for_quart_through_the_method_form() -> None:
    quart_app = Quart(__name__)

    @tiffin.service
    class Greeter:
        def __init__(self) -> None:
            self.greeting = "Hello from the instance"

        @quart_app.get("/hello")
        async def hello(self) -> str:
            return self.greeting

    Greeter.mount_asgi_app(quart_app, path="/q")  # the method form, not the decorator

    async with running_client(Greeter) as client:
        response = await client.get("/q/hello")

    assert (response.status_code, response.text) == (200, "Hello from the instance")


async def test_get_current_service_is_per_app_and_works_in_hooks_and_mounted_lifespans() -> None:
    seen: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        seen["mounted lifespan"] = tiffin.get_current_service()
        yield

    fastapi_app = FastAPI(lifespan=lifespan)

    @fastapi_app.get("/who")
    async def who() -> str:
        return str(tiffin.get_current_service().label)

    @tiffin.service
    @tiffin.mount_asgi_app(fastapi_app, path="/v1")
    class Labelled:
        def __init__(self) -> None:
            self.label = "unset"

        @tiffin.on_startup
        def hook(self) -> None:
            seen["on_startup"] = tiffin.get_current_service()
            seen["self"] = self

    first, second = Labelled.to_asgi(), Labelled.to_asgi()
    async with running_client(first) as one:
        instance_one = seen["self"]
        instance_one.label = "one"
        assert seen["on_startup"] is instance_one
        assert seen["mounted lifespan"] is instance_one
        async with running_client(second) as two:
            seen["self"].label = "two"
            answers = (await one.get("/v1/who")).json(), (await two.get("/v1/who")).json()

    assert answers == ("one", "two")


async def test_every_asgi_app_gets_lifespan_state_kept_and_starts_once() -> None:
    startups: list[str] = []

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            startups.append("startup")
            scope["state"]["token"] = "from the bare lifespan"
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
        elif scope["type"] == "http":
            body = scope["state"].get("token", "no state").encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})

    @tiffin.service
    class Twice:
        pass

    Twice.mount_asgi_app(bare, path="/one")
    Twice.mount_asgi_app(bare, path="/two")

    async with running_client(Twice) as client:
        one, two = await client.get("/one/x"), await client.get("/two/x")

    assert startups == ["startup"]
    assert one.text == two.text == "from the bare lifespan"


async def test_an_exception_before_the_first_byte_is_an_immediate_logged_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @tiffin.service(traffic={"timeout": 5})
    class Broken:
        @tiffin.api
        async def boom(self) -> str:
            raise RuntimeError("broken before the first byte")

    began = time.monotonic()
    with caplog.at_level(logging.ERROR):
        async with running_client(Broken) as client:
            response = await client.post("/boom")

    assert time.monotonic() - began < 2
    assert response.status_code == 500
    assert response.json() == {
        "error": "An unexpected error has occurred, please check the server log."
    }
    assert "broken before the first byte" in caplog.text


async def test_a_timed_out_sync_api_holds_its_slot_until_its_thread_returns() -> None:
    release = threading.Event()
    returned = threading.Event()

    @tiffin.service(traffic={"max_concurrency": 1, "timeout": 0.2})
    class Stuck:
        @tiffin.api
        def stuck(self) -> str:
            release.wait(GATE_TIMEOUT)
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
        after = while_stuck
        for _ in range(200):
            after = await client.post("/other")
            if after.status_code != 429:
                break
            await asyncio.sleep(0.01)

    assert timed_out.status_code == 504
    assert while_stuck.status_code == 429
    assert after.status_code == 200


async def test_429_has_retry_after_and_prefixed_probes_are_exempt() -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    @tiffin.service(path_prefix="/pp", traffic={"max_concurrency": 1, "timeout": 5})
    class Busy:
        @tiffin.api
        async def block(self) -> str:
            entered.set()
            await asyncio.wait_for(release.wait(), GATE_TIMEOUT)
            return "done"

        @tiffin.api
        async def other(self) -> str:
            return "other"

    async with running_client(Busy) as client:
        blocked = asyncio.create_task(client.post("/pp/block"))
        await asyncio.wait_for(entered.wait(), GATE_TIMEOUT)
        throttled = await client.post("/pp/other")
        probe = await client.get("/pp/healthz")
        release.set()
        await blocked

    assert throttled.status_code == 429
    assert throttled.json() == {"error": "Too many requests"}
    assert "retry-after" in throttled.headers
    assert probe.status_code == 200


async def test_a_4xx_exception_answers_a_json_object() -> None:
    @tiffin.service
    class Svc:
        @tiffin.api
        def find(self) -> str:
            raise exceptions.NotFound("no such item")

    async with running_client(Svc) as client:
        response = await client.post("/find")

    assert response.status_code == 404
    assert response.json() == {"error": "no such item"}


async def test_metrics_use_route_templates_and_a_registry_per_app(monkeypatch: Any) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    fastapi_app = FastAPI()

    @fastapi_app.get("/items/{item_id}")
    async def item(item_id: int) -> int:
        return item_id

    @tiffin.service
    @tiffin.mount_asgi_app(fastapi_app, path="/v1")
    class Items:
        pass

    first, second = Items.to_asgi(), Items.to_asgi()
    async with running_client(first) as one, running_client(second) as two:
        await one.get("/v1/items/1")
        await one.get("/v1/items/2")
        first_text = (await one.get("/metrics")).text
        second_text = (await two.get("/metrics")).text

    assert (
        metric_value(
            first_text,
            "bentoml_service_request_total",
            endpoint="/v1/items/{item_id}",
            http_response_code="200",
        )
        == 2.0
    )
    assert metric_value(first_text, "bentoml_service_request_total", endpoint="/v1/items/1") is None
    assert (
        metric_value(second_text, "bentoml_service_request_total", endpoint="/v1/items/{item_id}")
        is None
    )


def test_serve_timeout_is_honoured(tmp_path: Path) -> None:
    (tmp_path / "slow_service.py").write_text(
        textwrap.dedent(
            """
            import asyncio
            import tiffin

            @tiffin.service(traffic={"timeout": 30})
            class Slow:
                @tiffin.api
                async def wait(self) -> str:
                    await asyncio.sleep(10)
                    return "late"
            """
        )
    )
    target = str(tmp_path / "slow_service.py") + ":Slow"
    with served(target, "--timeout", "0.3", "--log-level", "warning") as base:
        response = httpx.post(f"{base}/wait", timeout=5)

    assert response.status_code == 504
    assert response.json() == {"error": "Not able to process the request in 0.3 seconds"}


async def test_a_miss_under_a_fastapi_mount_is_answered_by_fastapi() -> None:
    fastapi_app = FastAPI()

    @fastapi_app.get("/exists")
    async def exists() -> str:
        return "yes"

    @tiffin.service
    @tiffin.mount_asgi_app(fastapi_app, path="/v1")
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.get("/v1/missing")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
