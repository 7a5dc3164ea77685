"""CONTRACT section 3 for FastAPI: routes defined in the class body get ``self``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, FastAPI, WebSocket
from fastapi.routing import APIRoute
from pydantic import BaseModel

import tiffin
from tests.asgi import drive_websocket
from tests.conftest import running_client


class Item(BaseModel):
    name: str
    price: float


def dependency_value() -> str:
    return "from Depends"


async def test_sync_route_gets_the_running_instance() -> None:
    app = FastAPI()
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
        def hello(self) -> str:
            seen.append(self)
            return f"Hello {self.name}"

    async with running_client(Svc) as client:
        response = await client.get("/v1/hello")
    assert (response.status_code, response.json()) == (200, "Hello MyService")
    assert len(started) == 1
    assert seen == started
    assert type(seen[0]) is Svc.inner


async def test_async_route_gets_the_running_instance() -> None:
    app = FastAPI()
    started: list[Any] = []
    seen: list[Any] = []

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        @tiffin.on_startup
        async def start(self) -> None:
            started.append(self)

        @app.get("/hello")
        async def hello(self) -> str:
            seen.append(self)
            return "async hello"

    async with running_client(Svc) as client:
        response = await client.get("/v1/hello")
    assert (response.status_code, response.json()) == (200, "async hello")
    assert seen == started


async def test_websocket_route_gets_the_running_instance() -> None:
    app = FastAPI()

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        name = "MyService"

        @app.websocket("/ws")
        async def chat(self, websocket: WebSocket) -> None:
            await websocket.accept()
            text = await websocket.receive_text()
            await websocket.send_text(f"{self.name} got {text}")
            await websocket.close()

    app = Svc.to_asgi()
    async with app.running():
        sent = await drive_websocket(app, "/v1/ws", ["hi"])
    assert [message["type"] for message in sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    assert sent[1]["text"] == "MyService got hi"


async def test_path_query_and_body_parameters_keep_working() -> None:
    app = FastAPI()

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        currency = "EUR"

        @app.put("/items/{item_id}")
        def update(self, item_id: int, item: Item, q: str | None = None) -> dict[str, Any]:
            return {"id": item_id, "q": q, "item": item.model_dump(), "currency": self.currency}

    async with running_client(Svc) as client:
        ok = await client.put("/v1/items/3?q=x", json={"name": "tea", "price": 1.5})
        bad_path = await client.put("/v1/items/three", json={"name": "tea", "price": 1.5})
        bad_body = await client.put("/v1/items/3", json={"name": "tea"})
    assert ok.status_code == 200
    assert ok.json() == {
        "id": 3,
        "q": "x",
        "item": {"name": "tea", "price": 1.5},
        "currency": "EUR",
    }
    assert bad_path.status_code == 422
    assert [error["loc"] for error in bad_path.json()["detail"]] == [["path", "item_id"]]
    assert bad_body.status_code == 422
    assert [error["loc"] for error in bad_body.json()["detail"]] == [["body", "price"]]


async def test_embedded_body_and_depends_keep_working() -> None:
    app = FastAPI()

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        @app.post("/echo")
        async def echo(
            self, text: str = Body(embed=True), extra: str = Depends(dependency_value)
        ) -> dict[str, str]:
            return {"text": text, "extra": extra, "owner": type(self).__name__}

    async with running_client(Svc) as client:
        response = await client.post("/v1/echo", json={"text": "hi"})
    assert response.json() == {"text": "hi", "extra": "from Depends", "owner": "Svc"}


async def test_self_is_not_a_parameter_in_the_apps_openapi() -> None:
    app = FastAPI()

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        @app.get("/hello")
        def hello(self) -> str:
            return ""

        @app.get("/items/{item_id}")
        def item(self, item_id: int, q: str = "") -> str:
            return ""

    paths = app.openapi()["paths"]
    assert "parameters" not in paths["/hello"]["get"]
    names = [param["name"] for param in paths["/items/{item_id}"]["get"]["parameters"]]
    assert names == ["item_id", "q"]


async def test_self_is_not_a_parameter_in_docs_json() -> None:
    app = FastAPI()

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        @app.get("/hello")
        def hello(self) -> str:
            return ""

        @app.get("/items/{item_id}")
        def item(self, item_id: int) -> str:
            return ""

    async with running_client(Svc) as client:
        paths = (await client.get("/docs.json")).json()["paths"]
    assert "parameters" not in paths["/v1/hello"]["get"]
    names = [param["name"] for param in paths["/v1/items/{item_id}"]["get"]["parameters"]]
    assert names == ["item_id"]


async def test_route_keeps_its_place_in_the_route_list() -> None:
    app = FastAPI()

    @app.get("/items/special")
    def special() -> str:
        return "defined before"

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        @app.get("/items/{name}")
        def item(self, name: str) -> str:
            return f"inside {name} {type(self).__name__}"

    @app.get("/items/{name}")
    def shadowed(name: str) -> str:
        return "defined after, shadowed"

    @app.get("/later")
    def later() -> str:
        return "defined after"

    router = APIRouter()

    @router.get("/items/{name}")
    def router_shadowed(name: str) -> str:
        return "router, shadowed"

    @router.get("/router")
    def router_route() -> str:
        return "router"

    app.include_router(router)

    own = [route.path for route in app.router.routes if isinstance(route, APIRoute)]
    assert own == ["/items/special", "/items/{name}", "/items/{name}", "/later"]
    async with running_client(Svc) as client:
        answers = [
            (await client.get(path)).json()
            for path in ("/v1/items/special", "/v1/items/x", "/v1/later", "/v1/router")
        ]
    assert answers == ["defined before", "inside x Svc", "defined after", "router"]


async def test_method_form_binds_self() -> None:
    app = FastAPI()

    @tiffin.service
    class Svc:
        name = "MyService"

        @app.get("/hello")
        def hello(self) -> str:
            return f"Hello {self.name}"

    Svc.mount_asgi_app(app, path="/v2")
    async with running_client(Svc) as client:
        response = await client.get("/v2/hello")
    assert (response.status_code, response.json()) == (200, "Hello MyService")


async def test_two_composed_apps_each_get_their_own_instance() -> None:
    app = FastAPI()

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        @app.get("/me")
        def me(self) -> int:
            return id(self)

    async with running_client(Svc) as first, running_client(Svc) as second:
        ids = [(await client.get("/v1/me")).json() for client in (first, first, second)]
    assert ids[0] == ids[1]
    assert ids[0] != ids[2]


async def test_one_app_on_two_services_of_one_base_class() -> None:
    app = FastAPI()

    class Base:
        label = "base"

        @app.get("/who")
        def who(self) -> str:
            return f"{type(self).__name__} {self.label}"

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class First(Base):
        label = "first"

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Second(Base):
        label = "second"

    async with running_client(First) as first, running_client(Second) as second:
        responses = [await first.get("/v1/who"), await second.get("/v1/who")]
    answers = [(response.status_code, response.text) for response in responses]
    assert answers == [(200, '"First first"'), (200, '"Second second"')]


async def test_an_instance_of_the_wrong_class_is_never_self() -> None:
    app = FastAPI()
    seen: list[Any] = []

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Owner:
        @app.get("/hello")
        def hello(self) -> str:
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


async def test_route_on_an_included_router_gets_self() -> None:
    app = FastAPI()
    router = APIRouter(prefix="/r")
    app.include_router(router)

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        name = "MyService"

        @router.get("/hello")
        def hello(self) -> str:
            return f"Hello {self.name}"

    async with running_client(Svc) as client:
        response = await client.get("/v1/r/hello")
    assert (response.status_code, response.json()) == (200, "Hello MyService")


async def test_route_options_survive_the_rebuild() -> None:
    app = FastAPI()

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        @app.post("/items", status_code=201, response_model=Item, tags=["items"], name="create")
        def create(self) -> dict[str, Any]:
            return {"name": "tea", "price": 1.5, "secret": type(self).__name__}

    assert app.url_path_for("create") == "/items"
    async with running_client(Svc) as client:
        response = await client.post("/v1/items")
        operation = (await client.get("/docs.json")).json()["paths"]["/v1/items"]["post"]
    assert (response.status_code, response.json()) == (201, {"name": "tea", "price": 1.5})
    assert operation["tags"] == ["items"]
