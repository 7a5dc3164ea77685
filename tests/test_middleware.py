"""CONTRACT section 5: user middleware, its order, and what it wraps.

Middleware order is tested as recorded event sequences: each test middleware
appends ``"<name> in"`` before calling the app and ``"<name> out <status>"``
after it, and the handlers append ``"handler"``.
"""

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, WebSocket
from quart import Quart, websocket
from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket as StarletteWebSocket

import tiffin
from tests.asgi import drive_websocket, metric_value
from tests.conftest import running_client

Events = list[str]


class EventRecorder:
    """Records ``<name> in`` and ``<name> out <status>`` around the app it wraps."""

    def __init__(self, app: Any, events: Events, name: str) -> None:
        self.app = app
        self.events = events
        self.name = name

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.events.append(f"{self.name} in")
        status: list[Any] = []

        async def watched_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "websocket.accept":
                status.append("accept")
            await send(message)

        await self.app(scope, receive, watched_send)
        self.events.append(f"{self.name} out {status[0] if status else '-'}")


# --- tiny mounted apps, one per framework, each recording "handler" ------------------


def make_fastapi(events: Events) -> Any:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        events.append("handler")
        return {"from": "fastapi"}

    @app.websocket("/ws")
    async def ws(socket: WebSocket) -> None:
        events.append("handler")
        await socket.accept()
        await socket.send_text("fastapi")
        await socket.close()

    return app


def make_quart(events: Events) -> Any:
    app = Quart(__name__)

    @app.get("/hello")
    async def hello() -> str:
        events.append("handler")
        return "quart"

    @app.websocket("/ws")
    async def ws() -> None:
        events.append("handler")
        await websocket.send("quart")

    return app


def make_starlette(events: Events) -> Any:
    async def hello(request: Request) -> PlainTextResponse:
        events.append("handler")
        return PlainTextResponse("starlette")

    async def ws(socket: StarletteWebSocket) -> None:
        events.append("handler")
        await socket.accept()
        await socket.send_text("starlette")
        await socket.close()

    return Starlette(routes=[Route("/hello", hello), WebSocketRoute("/ws", ws)])


def make_bare(events: Events) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            events.append("handler")
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"bare"})
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect
            events.append("handler")
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": "bare"})
            await send({"type": "websocket.close", "code": 1000})
        # a lifespan scope is answered by returning: this app does not speak lifespan

    return app


FRAMEWORKS: dict[str, Callable[[Events], Any]] = {
    "fastapi": make_fastapi,
    "quart": make_quart,
    "starlette": make_starlette,
    "bare": make_bare,
}
MOUNT_BODIES = {
    "fastapi": '{"from":"fastapi"}',
    "quart": "quart",
    "starlette": "starlette",
    "bare": "bare",
}


def service_with_two_recorders(events: Events, **service_options: Any) -> Any:
    @tiffin.service(**service_options)
    class Recorded:
        @tiffin.api
        async def hello(self) -> str:
            events.append("handler")
            return "api"

    for kind, factory in FRAMEWORKS.items():
        Recorded.mount_asgi_app(factory(events), path=f"/{kind}")
    Recorded.add_asgi_middleware(EventRecorder, events=events, name="mw1")
    Recorded.add_asgi_middleware(EventRecorder, events=events, name="mw2")
    return Recorded


# --- order ---------------------------------------------------------------------------


async def test_first_added_middleware_is_outermost_around_an_api() -> None:
    events: Events = []
    service = service_with_two_recorders(events)

    async with running_client(service) as client:
        response = await client.post("/hello")

    assert response.text == "api"
    assert events == ["mw1 in", "mw2 in", "handler", "mw2 out 200", "mw1 out 200"]


@pytest.mark.parametrize("path", ["/livez", "/healthz", "/readyz", "/metrics", "/docs.json"])
async def test_middleware_wraps_infra_routes_and_docs(path: str) -> None:
    events: Events = []
    service = service_with_two_recorders(events)

    async with running_client(service) as client:
        response = await client.get(path)

    assert response.status_code == 200
    assert events == ["mw1 in", "mw2 in", "mw2 out 200", "mw1 out 200"]


async def test_middleware_wraps_a_404() -> None:
    events: Events = []
    service = service_with_two_recorders(events)

    async with running_client(service) as client:
        response = await client.get("/nowhere")

    assert response.status_code == 404
    assert events == ["mw1 in", "mw2 in", "mw2 out 404", "mw1 out 404"]


async def test_middleware_wraps_a_405() -> None:
    events: Events = []
    service = service_with_two_recorders(events)

    async with running_client(service) as client:
        response = await client.get("/hello")

    assert response.status_code == 405
    assert events == ["mw1 in", "mw2 in", "mw2 out 405", "mw1 out 405"]


@pytest.mark.parametrize("kind", list(FRAMEWORKS))
async def test_middleware_wraps_every_mounted_app_over_http(kind: str) -> None:
    events: Events = []
    service = service_with_two_recorders(events)

    async with running_client(service) as client:
        response = await client.get(f"/{kind}/hello")

    assert response.status_code == 200
    assert response.text == MOUNT_BODIES[kind]
    assert events == ["mw1 in", "mw2 in", "handler", "mw2 out 200", "mw1 out 200"]


@pytest.mark.parametrize("kind", list(FRAMEWORKS))
async def test_middleware_wraps_every_mounted_app_over_websocket(kind: str) -> None:
    events: Events = []
    app = service_with_two_recorders(events).to_asgi()

    async with app.running():
        sent = await drive_websocket(app, f"/{kind}/ws")

    types = [message["type"] for message in sent]
    assert types[0] == "websocket.accept"
    assert "websocket.close" in types
    texts = [
        m.get("text") or (m.get("bytes") or b"").decode()
        for m in sent
        if m["type"] == "websocket.send"
    ]
    assert texts == [kind]
    assert events == ["mw1 in", "mw2 in", "handler", "mw2 out accept", "mw1 out accept"]


async def test_middleware_wraps_a_websocket_to_nowhere() -> None:
    events: Events = []
    app = service_with_two_recorders(events).to_asgi()

    async with app.running():
        sent = await drive_websocket(app, "/nowhere")

    assert [message["type"] for message in sent] == ["websocket.close"]
    assert events == ["mw1 in", "mw2 in", "mw2 out -", "mw1 out -"]


async def test_middleware_added_as_plain_callable_factory_gets_options() -> None:
    events: Events = []

    def tagging(app: Any, tag: str) -> Any:
        async def wrapped(scope: Any, receive: Any, send: Any) -> None:
            events.append(tag)
            await app(scope, receive, send)

        return wrapped

    @tiffin.service
    class Tagged:
        @tiffin.api
        def ping(self) -> str:
            return "pong"

    Tagged.add_asgi_middleware(tagging, tag="tagged")

    async with running_client(Tagged) as client:
        response = await client.post("/ping")

    assert response.text == "pong"
    assert events == ["tagged"]


# --- TrustedHostMiddleware --------------------------------------------------------------


def trusted_host_service() -> Any:
    @tiffin.service
    class Guarded:
        @tiffin.api
        def hello(self) -> str:
            return "api"

    for kind, factory in FRAMEWORKS.items():
        Guarded.mount_asgi_app(factory([]), path=f"/{kind}")
    Guarded.add_asgi_middleware(
        TrustedHostMiddleware, allowed_hosts=["example.com", "*.example.com"]
    )
    return Guarded


ROUTES = [
    ("POST", "/hello"),
    ("GET", "/livez"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/docs.json"),
    ("GET", "/"),
    ("GET", "/fastapi/hello"),
    ("GET", "/quart/hello"),
    ("GET", "/starlette/hello"),
    ("GET", "/bare/hello"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("host", ["evil.com", "localhost", "example.com.evil.com"])
async def test_trusted_host_rejects_other_hosts_on_every_route(
    method: str, path: str, host: str
) -> None:
    async with running_client(trusted_host_service(), base_url=f"http://{host}") as client:
        response = await client.request(method, path)

    assert response.status_code == 400
    assert response.text == "Invalid host header"


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("host", ["example.com", "api.example.com"])
async def test_trusted_host_lets_allowed_hosts_through_on_every_route(
    method: str, path: str, host: str
) -> None:
    async with running_client(trusted_host_service(), base_url=f"http://{host}") as client:
        response = await client.request(method, path)

    assert response.status_code == 200
    assert response.text != "Invalid host header"


async def test_trusted_host_rejects_a_404_too() -> None:
    async with running_client(trusted_host_service(), base_url="http://evil.com") as client:
        response = await client.get("/nowhere")

    assert response.status_code == 400
    assert response.text == "Invalid host header"


async def test_a_response_made_by_user_middleware_is_counted_in_metrics() -> None:
    service = trusted_host_service()
    app = service.to_asgi()

    async with running_client(app, base_url="http://evil.com") as evil:
        assert (await evil.get("/livez")).status_code == 400
        assert (await evil.post("/hello")).status_code == 400
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as good:
            metrics = (await good.get("/metrics")).text

    name = "bentoml_service_request_total"
    assert metric_value(metrics, name, endpoint="/livez", http_response_code="400") == 1.0
    assert metric_value(metrics, name, endpoint="/hello", http_response_code="400") == 1.0


async def test_a_slow_user_middleware_is_bounded_by_the_timeout() -> None:
    class Sleepy:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"] == "/hello":
                await asyncio.sleep(5)
            await self.app(scope, receive, send)

    @tiffin.service(traffic={"timeout": 0.3})
    class Slow:
        @tiffin.api
        def hello(self) -> str:
            return "api"

    Slow.add_asgi_middleware(Sleepy)

    async with running_client(Slow) as client:
        response = await asyncio.wait_for(client.post("/hello"), timeout=3)

    assert response.status_code == 504
    assert response.json() == {"error": "Not able to process the request in 0.3 seconds"}
