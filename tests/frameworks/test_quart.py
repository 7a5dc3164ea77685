"""CONTRACT section 3 for Quart: view functions defined in the class body get ``self``."""

from __future__ import annotations

from typing import Any

from quart import Quart, websocket

import tiffin
from tests.asgi import drive_websocket
from tests.conftest import running_client


async def test_async_view_gets_the_running_instance() -> None:
    app = Quart(__name__)
    started: list[Any] = []
    seen: list[Any] = []

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        name = "MyService"

        @tiffin.on_startup
        def start(self) -> None:
            started.append(self)

        @app.get("/hello")
        async def hello(self) -> str:
            seen.append(self)
            return f"Hello, {self.name}"

    async with running_client(Svc) as client:
        response = await client.get("/v1/hello")
    assert (response.status_code, response.text) == (200, "Hello, MyService")
    assert len(started) == 1
    assert seen == started


async def test_sync_view_gets_the_running_instance() -> None:
    app = Quart(__name__)
    started: list[Any] = []
    seen: list[Any] = []

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        @tiffin.on_startup
        def start(self) -> None:
            started.append(self)

        @app.get("/hello")
        def hello(self) -> str:
            seen.append(self)
            return "sync hello"

    async with running_client(Svc) as client:
        response = await client.get("/v1/hello")
    assert (response.status_code, response.text) == (200, "sync hello")
    assert seen == started


async def test_path_and_query_parameters_keep_working() -> None:
    app = Quart(__name__)

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        greeting = "Hi"

        @app.get("/greet/<int:times>/<name>")
        async def greet(self, name: str, times: int) -> dict[str, Any]:
            return {"text": f"{self.greeting} {name}", "times": times}

    async with running_client(Svc) as client:
        ok = await client.get("/v1/greet/3/ann")
        miss = await client.get("/v1/greet/three/ann")
    assert ok.json() == {"text": "Hi ann", "times": 3}
    assert miss.status_code == 404


async def test_websocket_view_gets_the_running_instance() -> None:
    app = Quart(__name__)

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        name = "MyService"

        @app.websocket("/ws")
        async def chat(self) -> None:
            text = await websocket.receive()
            await websocket.send(f"{self.name} got {text}")

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
    app = Quart(__name__)

    @tiffin.service
    class Svc:
        name = "MyService"

        @app.get("/hello")
        async def hello(self) -> str:
            return f"Hello, {self.name}"

    Svc.mount_asgi_app(app, path="/v2")
    async with running_client(Svc) as client:
        response = await client.get("/v2/hello")
    assert (response.status_code, response.text) == (200, "Hello, MyService")


async def test_two_composed_apps_each_get_their_own_instance() -> None:
    app = Quart(__name__)

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        @app.get("/me")
        async def me(self) -> str:
            return str(id(self))

    async with running_client(Svc) as first, running_client(Svc) as second:
        ids = [(await client.get("/v1/me")).text for client in (first, first, second)]
    assert ids[0] == ids[1]
    assert ids[0] != ids[2]


async def test_an_instance_of_the_wrong_class_is_never_self() -> None:
    app = Quart(__name__)
    seen: list[Any] = []

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Owner:
        @app.get("/hello")
        async def hello(self) -> str:
            seen.append(self)
            return "owner"

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Stranger:
        pass

    async with running_client(Stranger) as client:
        response = await client.get("/v1/hello")
    assert response.status_code == 500
    assert seen == []
