"""CONTRACT section 8: /metrics, with BentoML's family names and route-template labels."""

import asyncio
import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import tiffin
from tests.asgi import call_gone, call_http, metric_value
from tests.conftest import running_client
from tiffin.metrics import ServiceMetrics

TOTAL = "bentoml_service_request_total"
DURATION_COUNT = "bentoml_service_request_duration_seconds_count"
IN_PROGRESS = "bentoml_service_request_in_progress"


def samples(text: str, name: str) -> list[Any]:
    return [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def items_app() -> Any:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    return app


async def test_metrics_is_prometheus_text_with_bentoml_families() -> None:
    @tiffin.service(name="counted")
    class Svc:
        @tiffin.api
        def hello(self) -> str:
            return "hi"

    async with running_client(Svc) as client:
        await client.post("/hello")
        await client.post("/hello")
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    labels = {"endpoint": "/hello", "http_response_code": "200", "service_name": "counted"}
    assert metric_value(text, TOTAL, **labels) == 2.0
    assert metric_value(text, DURATION_COUNT, **labels) == 2.0
    assert metric_value(text, IN_PROGRESS, endpoint="/metrics", service_name="counted") == 1.0
    assert metric_value(text, IN_PROGRESS, endpoint="/hello", service_name="counted") == 0.0


async def test_status_codes_are_labelled_separately() -> None:
    @tiffin.service(name="codes")
    class Svc:
        @tiffin.api
        def need(self, n: int) -> int:
            return n

    async with running_client(Svc) as client:
        await client.post("/need", json={"n": 1})
        await client.post("/need", json={"n": "x"})
        await client.post("/need", json={"n": "y"})
        text = (await client.get("/metrics")).text

    assert metric_value(text, TOTAL, endpoint="/need", http_response_code="200") == 1.0
    assert metric_value(text, TOTAL, endpoint="/need", http_response_code="400") == 2.0


async def test_endpoint_is_the_route_template_of_a_mounted_fastapi_route() -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(items_app(), path="/v1")
    class Svc:
        pass

    async with running_client(Svc) as client:
        for item_id in (1, 2, 3):
            assert (await client.get(f"/v1/items/{item_id}")).status_code == 200
        text = (await client.get("/metrics")).text

    assert (
        metric_value(text, TOTAL, endpoint="/v1/items/{item_id}", http_response_code="200") == 3.0
    )
    endpoints = {sample.labels["endpoint"] for sample in samples(text, TOTAL)}
    assert not any(
        endpoint.startswith("/v1/items/") and "{" not in endpoint for endpoint in endpoints
    )


async def test_endpoint_is_the_route_template_of_a_mounted_starlette_route() -> None:
    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.path_params["item_id"])

    starlette_app = Starlette(routes=[Route("/items/{item_id}", item)])

    @tiffin.service
    @tiffin.mount_asgi_app(starlette_app, path="/s")
    class Svc:
        pass

    async with running_client(Svc) as client:
        assert (await client.get("/s/items/a")).text == "a"
        assert (await client.get("/s/items/b")).text == "b"
        text = (await client.get("/metrics")).text

    assert metric_value(text, TOTAL, endpoint="/s/items/{item_id}", http_response_code="200") == 2.0


async def test_timeouts_and_throttled_requests_are_counted() -> None:
    entered = asyncio.Event()

    @tiffin.service(traffic={"timeout": 0.2, "max_concurrency": 1})
    class Slow:
        @tiffin.api
        async def wait(self) -> str:
            entered.set()
            await asyncio.sleep(10)
            return "late"

    async with running_client(Slow) as client:
        slow = asyncio.create_task(client.post("/wait"))
        await asyncio.wait_for(entered.wait(), 5)
        throttled = await client.post("/wait")
        timed_out = await slow
        text = (await client.get("/metrics")).text

    assert (throttled.status_code, timed_out.status_code) == (429, 504)
    assert metric_value(text, TOTAL, endpoint="/wait", http_response_code="429") == 1.0
    assert metric_value(text, TOTAL, endpoint="/wait", http_response_code="504") == 1.0


async def test_endpoint_template_includes_the_path_prefix() -> None:
    @tiffin.service(path_prefix="/pp")
    @tiffin.mount_asgi_app(items_app(), path="/v1")
    class Svc:
        pass

    async with running_client(Svc) as client:
        await client.get("/pp/v1/items/7")
        await client.get("/pp/v1/items/8")
        text = (await client.get("/pp/metrics")).text

    assert (
        metric_value(text, TOTAL, endpoint="/pp/v1/items/{item_id}", http_response_code="200")
        == 2.0
    )


async def test_unmatched_paths_share_one_label() -> None:
    @tiffin.service
    class Svc:
        pass

    async with running_client(Svc) as client:
        for path in ("/nope", "/other/thing", "/a/b/c"):
            assert (await client.get(path)).status_code == 404
        text = (await client.get("/metrics")).text

    not_found = [s for s in samples(text, TOTAL) if s.labels["http_response_code"] == "404"]
    assert len(not_found) == 1
    assert not_found[0].value == 3.0
    assert not_found[0].labels["endpoint"] not in ("/nope", "/other/thing", "/a/b/c")


async def test_two_composed_apps_count_only_their_own_requests() -> None:
    @tiffin.service(name="shared")
    class Svc:
        @tiffin.api
        def hello(self) -> str:
            return "hi"

    first, second = Svc.to_asgi(), Svc.to_asgi()
    async with running_client(first) as one, running_client(second) as two:
        for _ in range(3):
            await one.post("/hello")
        await two.post("/hello")
        first_text = (await one.get("/metrics")).text
        second_text = (await two.get("/metrics")).text

    assert metric_value(first_text, TOTAL, endpoint="/hello", service_name="shared") == 3.0
    assert metric_value(second_text, TOTAL, endpoint="/hello", service_name="shared") == 1.0


async def test_metrics_work_without_a_multiprocess_directory(monkeypatch: Any) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.delenv("prometheus_multiproc_dir", raising=False)

    @tiffin.service
    class Svc:
        @tiffin.api
        def hello(self) -> str:
            return "hi"

    async with running_client(Svc) as client:
        await client.post("/hello")
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert metric_value(response.text, TOTAL, endpoint="/hello") == 1.0


async def test_namespace_changes_the_prefix_of_every_family() -> None:
    @tiffin.service(metrics={"namespace": "x"})
    class Svc:
        @tiffin.api
        def hello(self) -> str:
            return "hi"

    async with running_client(Svc) as client:
        await client.post("/hello")
        text = (await client.get("/metrics")).text

    assert metric_value(text, "x_request_total", endpoint="/hello") == 1.0
    assert metric_value(text, "x_request_duration_seconds_count", endpoint="/hello") == 1.0
    assert metric_value(text, "x_request_in_progress", endpoint="/metrics") == 1.0
    assert "bentoml_service_request" not in text


async def test_metrics_count_requests_that_arrived_before_startup_finished() -> None:
    @tiffin.service(name="early")
    class Svc:
        @tiffin.api
        def hello(self) -> str:
            return "hi"

    app = Svc.to_asgi()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        early = await client.post("/hello")
        async with app.running():
            text = (await client.get("/metrics")).text

    assert early.status_code == 503
    assert metric_value(text, TOTAL, endpoint="/hello", http_response_code="503") == 1.0


def test_the_text_is_what_prometheus_client_metrics_fed_the_same_requests_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The counts are plain numbers rendered at scrape time: the text must not tell."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    labels = ["endpoint", "service_name", "http_response_code"]
    registry = CollectorRegistry()
    requests = Counter("ns_request", "Requests served", labels, registry=registry)
    duration = Histogram(
        "ns_request_duration_seconds",
        "Time from the request's arrival to the end of its response",
        labels,
        registry=registry,
    )
    in_progress = Gauge(
        "ns_request_in_progress",
        "Requests being served",
        ["endpoint", "service_name"],
        registry=registry,
    )
    metrics = ServiceMetrics("svc", "ns")
    # On a bucket's bound, between bounds, past the last one; two statuses; a 499.
    finished = [
        ("/a", 200, 0.005),
        ("/a", 200, 0.0051),
        ("/a", 404, 2.5),
        ("/v1/{path:path}", 499, 100.0),
        ("/a", 200, 0.0),
    ]
    for endpoint in ("/a", "/b", "/a"):
        metrics.started(endpoint)
        in_progress.labels(endpoint, "svc").inc()
    metrics.stopped("/a")
    in_progress.labels("/a", "svc").dec()
    for endpoint, status, seconds in finished:
        metrics.finished(endpoint, status, seconds)
        requests.labels(endpoint, "svc", str(status)).inc()
        duration.labels(endpoint, "svc", str(status)).observe(seconds)

    expected = [
        line
        for line in generate_latest(registry).decode().splitlines()
        if "_created" not in line  # BentoML's metrics (multiprocess mode) have none either
    ]
    assert metrics.render().decode().splitlines() == expected


# --- clients that went away -------------------------------------------------------------


class Named(BaseModel):
    name: str


def body_reading_service() -> Any:
    """``POST /echo`` (an ``@api``), ``/f/named`` (FastAPI) and ``/s/echo`` (Starlette)."""
    fastapi_app = FastAPI()

    @fastapi_app.post("/named")
    async def named(body: Named) -> Named:
        return body

    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(await request.body())

    starlette_app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])

    @tiffin.service(name="gone")
    @tiffin.mount_asgi_app(fastapi_app, path="/f")
    @tiffin.mount_asgi_app(starlette_app, path="/s")
    class Svc:
        @tiffin.api
        def echo(self, text: str) -> str:
            return text

    return Svc.to_asgi()


async def metrics_text(app: Any) -> str:
    sent = await call_http(app, "GET", "/metrics")
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()


@pytest.mark.parametrize(
    "path", ["/echo", "/f/named", "/s/echo"], ids=["api", "fastapi", "starlette"]
)
async def test_a_client_gone_before_its_body_was_read_is_counted_499_not_logged(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = body_reading_service()

    async with app.running():
        with caplog.at_level(logging.WARNING):
            await call_gone(app, "POST", path)
        text = await metrics_text(app)

    assert metric_value(text, TOTAL, endpoint=path, http_response_code="499") == 1.0
    assert [s.labels for s in samples(text, TOTAL) if s.labels["endpoint"] == path] == [
        {"endpoint": path, "http_response_code": "499", "service_name": "gone"}
    ]
    assert caplog.records == []


async def test_a_request_cancelled_before_it_responded_is_counted_499() -> None:
    entered = asyncio.Event()

    @tiffin.service(name="cancelled")
    class Svc:
        @tiffin.api
        async def wait(self) -> str:
            entered.set()
            await asyncio.sleep(10)
            return "late"

    app = Svc.to_asgi()
    async with app.running():
        request = asyncio.create_task(call_http(app, "POST", "/wait"))
        await asyncio.wait_for(entered.wait(), 5)
        request.cancel()  # what a server does when its client is gone
        with pytest.raises(asyncio.CancelledError):
            await request
        text = await metrics_text(app)

    assert metric_value(text, TOTAL, endpoint="/wait", http_response_code="499") == 1.0
    assert metric_value(text, TOTAL, endpoint="/wait", http_response_code="500") is None


async def test_a_client_gone_after_the_response_started_keeps_its_status() -> None:
    async def stream(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return  # no lifespan support: the service starts without it
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        assert (await receive())["type"] == "http.disconnect"

    @tiffin.service(name="streamed")
    @tiffin.mount_asgi_app(stream, path="/stream")
    class Svc:
        pass

    app = Svc.to_asgi()
    async with app.running():
        await call_gone(app, "POST", "/stream/x")
        text = await metrics_text(app)

    labels = {"endpoint": "/stream/{path:path}", "http_response_code": "200"}
    assert metric_value(text, TOTAL, **labels) == 1.0


# --- throttled requests to mounted apps --------------------------------------------------


def held_items_app(entered: asyncio.Event, release: asyncio.Event) -> Any:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        entered.set()
        await asyncio.wait_for(release.wait(), 5)
        return {"id": item_id}

    return app


def held_nested_starlette_app(entered: asyncio.Event, release: asyncio.Event) -> Any:
    async def item(request: Request) -> PlainTextResponse:
        entered.set()
        await asyncio.wait_for(release.wait(), 5)
        return PlainTextResponse(request.path_params["item_id"])

    return Starlette(routes=[Mount("/inner", routes=[Route("/items/{item_id}", item)])])


@pytest.mark.parametrize(
    ("make_app", "path", "template"),
    [
        (held_items_app, "/v1/items/{}", "/pp/v1/items/{item_id}"),
        (held_nested_starlette_app, "/v1/inner/items/{}", "/pp/v1/inner/items/{item_id}"),
    ],
    ids=["fastapi", "starlette-nested-mount"],
)
async def test_a_throttled_request_to_a_mounted_route_is_labelled_with_its_template(
    make_app: Any, path: str, template: str
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    @tiffin.service(path_prefix="/pp", traffic={"max_concurrency": 1})
    @tiffin.mount_asgi_app(make_app(entered, release), path="/v1")
    class Svc:
        pass

    async with running_client(Svc) as client:
        served = asyncio.create_task(client.get("/pp" + path.format(1)))
        await asyncio.wait_for(entered.wait(), 5)
        throttled = await client.get("/pp" + path.format(2))
        missing = await client.get("/pp/v1/nothing/here")
        release.set()
        assert (await served).status_code == 200
        text = (await client.get("/pp/metrics")).text

    assert (throttled.status_code, missing.status_code) == (429, 429)
    assert metric_value(text, TOTAL, endpoint=template, http_response_code="429") == 1.0
    assert metric_value(text, TOTAL, endpoint=template, http_response_code="200") == 1.0
    assert metric_value(text, TOTAL, endpoint="/pp/v1/{path:path}", http_response_code="429") == 1.0


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [("/hello", "/hello"), ("/v1/items/7", "/v1/items/{item_id}")],
    ids=["api", "mounted-route"],
)
async def test_a_request_is_counted_before_the_end_of_its_response_is_sent(
    path: str, endpoint: str
) -> None:
    """Over a socket, a scrape that follows a response must see it: the count is made
    before the last body message leaves, not after the handler returns."""

    @tiffin.service(name="prompt")
    @tiffin.mount_asgi_app(items_app(), path="/v1")
    class Svc:
        @tiffin.api
        async def hello(self) -> str:
            return "hi"

    app = Svc.to_asgi()
    counted_when_sent: list[float | None] = []

    async def on_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            text = await metrics_text(app)
            labels = {"endpoint": endpoint, "http_response_code": "200"}
            counted_when_sent.append(metric_value(text, TOTAL, **labels))

    async with app.running():
        await call_http(app, "POST" if path == "/hello" else "GET", path, on_send=on_send)

    assert counted_when_sent == [1.0]
