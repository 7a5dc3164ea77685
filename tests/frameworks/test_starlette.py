"""CONTRACT section 3 for Starlette: endpoints defined in the class body get ``self``."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.websockets import WebSocket

import tiffin
from tests.asgi import drive_websocket
from tests.conftest import running_client


async def test_add_route_in_class_body_gets_the_running_instance() -> None:
    app = Starlette()
    started: list[Any] = []
    seen: list[Any] = []

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        name = "MyService"

        @tiffin.on_startup
        def start(self) -> None:
            started.append(self)

        async def hello(self, request: Request) -> PlainTextResponse:
            seen.append(self)
            return PlainTextResponse(f"Hello {self.name}")

        app.add_route("/hello", hello)

    async with running_client(Svc) as client:
        response = await client.get("/v1/hello")
    assert (response.status_code, response.text) == (200, "Hello MyService")
    assert len(started) == 1
    assert seen == started


async def test_sync_endpoint_gets_the_running_instance() -> None:
    app = Starlette()
    started: list[Any] = []
    seen: list[Any] = []

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        @tiffin.on_startup
        def start(self) -> None:
            started.append(self)

        def hello(self, request: Request) -> PlainTextResponse:
            seen.append(self)
            return PlainTextResponse("sync hello")

        app.add_route("/hello", hello)

    async with running_client(Svc) as client:
        response = await client.get("/v1/hello")
    assert (response.status_code, response.text) == (200, "sync hello")
    assert seen == started


async def test_route_appended_in_class_body_keeps_path_params() -> None:
    app = Starlette()

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        greeting = "Hi"

        async def greet(self, request: Request) -> JSONResponse:
            return JSONResponse(
                {
                    "text": f"{self.greeting} {request.path_params['name']}",
                    "q": request.query_params.get("q"),
                }
            )

        app.router.routes.append(Route("/greet/{name}", greet, methods=["GET"]))

    async with running_client(Svc) as client:
        ok = await client.get("/v1/greet/ann?q=x")
        wrong_method = await client.post("/v1/greet/ann")
    assert ok.json() == {"text": "Hi ann", "q": "x"}
    assert wrong_method.status_code == 405


async def test_websocket_route_gets_the_running_instance() -> None:
    app = Starlette()

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        name = "MyService"

        async def chat(self, websocket: WebSocket) -> None:
            await websocket.accept()
            text = await websocket.receive_text()
            await websocket.send_text(f"{self.name} got {text}")
            await websocket.close()

        app.router.add_websocket_route("/ws", chat)

    app = Svc.to_asgi()
    async with app.running():
        sent = await drive_websocket(app, "/v1/ws", ["hi"])
    assert [message["type"] for message in sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    assert sent[1]["text"] == "MyService got hi"


async def test_method_form_binds_self() -> None:
    app = Starlette()

    @tiffin.service
    class Svc:
        name = "MyService"

        async def hello(self, request: Request) -> PlainTextResponse:
            return PlainTextResponse(f"Hello {self.name}")

        app.add_route("/hello", hello)

    Svc.mount_asgi_app(app, path="/v2")
    async with running_client(Svc) as client:
        response = await client.get("/v2/hello")
    assert (response.status_code, response.text) == (200, "Hello MyService")


async def test_routes_outside_the_class_are_untouched() -> None:
    async def outside(request: Request) -> PlainTextResponse:
        return PlainTextResponse(type(tiffin.get_current_service()).__name__)

    app = Starlette(routes=[Route("/outside", outside)])

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        async def inside(self, request: Request) -> PlainTextResponse:
            return PlainTextResponse("inside")

        app.add_route("/inside", inside)

    async with running_client(Svc) as client:
        answers = [(await client.get(p)).text for p in ("/v1/outside", "/v1/inside")]
    assert answers == ["Svc", "inside"]


async def test_two_composed_apps_each_get_their_own_instance() -> None:
    app = Starlette()

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        async def me(self, request: Request) -> PlainTextResponse:
            return PlainTextResponse(str(id(self)))

        app.add_route("/me", me)

    async with running_client(Svc) as first, running_client(Svc) as second:
        ids = [(await client.get("/v1/me")).text for client in (first, first, second)]
    assert ids[0] == ids[1]
    assert ids[0] != ids[2]


async def test_an_instance_of_the_wrong_class_is_never_self() -> None:
    app = Starlette()
    seen: list[Any] = []

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Owner:
        async def hello(self, request: Request) -> PlainTextResponse:
            seen.append(self)
            return PlainTextResponse("owner")

        app.add_route("/hello", hello)

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Stranger:
        pass

    async with running_client(Stranger) as client:
        response = await client.get("/v1/hello")
    assert response.status_code == 500
    assert seen == []
