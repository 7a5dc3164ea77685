"""CONTRACT section 2: the route table of a composed app and the rules of mount paths."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from quart import Quart
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

import tiffin
from tests.conftest import running_client
from tiffin.exceptions import BentoMLConfigException


def scope_echo(tag: str) -> Any:
    """A bare ASGI app answering every http request with its tag, path and root_path."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no lifespan support: skipped quietly
        body = json.dumps(
            {"app": tag, "path": scope["path"], "root_path": scope["root_path"]}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


# --- mount path normalisation and matching ------------------------------------------------------


@pytest.mark.parametrize("path", ["v1", "/v1/", "v1/", "/v1"])
async def test_mount_path_is_normalised(path: str) -> None:
    @tiffin.service
    class Svc:
        pass

    Svc.mount_asgi_app(scope_echo("v1"), path=path)
    assert [mount.path for mount in Svc.mounts] == ["/v1"]
    async with running_client(Svc) as client:
        response = await client.get("/v1/x")
    assert response.json() == {"app": "v1", "path": "/v1/x", "root_path": "/v1"}


@pytest.mark.parametrize("path", ["", None, "/"])
async def test_empty_mount_path_is_root(path: str | None) -> None:
    @tiffin.service
    class Svc:
        pass

    Svc.mount_asgi_app(scope_echo("root"), path=path)  # type: ignore[arg-type]
    assert [mount.path for mount in Svc.mounts] == ["/"]
    async with running_client(Svc) as client:
        response = await client.get("/anything/here")
    assert response.json() == {"app": "root", "path": "/anything/here", "root_path": ""}


async def test_mount_matches_at_segment_boundaries_only() -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(scope_echo("v1"), path="/v1")
    class Svc:
        pass

    async with running_client(Svc) as client:
        exact = await client.get("/v1")
        below = await client.get("/v1/a/b")
        sibling = await client.get("/v10")
        sibling_below = await client.get("/v10/a")
    assert exact.json() == {"app": "v1", "path": "/v1", "root_path": "/v1"}
    assert below.json() == {"app": "v1", "path": "/v1/a/b", "root_path": "/v1"}
    assert (sibling.status_code, sibling.text) == (404, "Not Found")
    assert (sibling_below.status_code, sibling_below.text) == (404, "Not Found")


async def test_longest_prefix_wins_whatever_the_mount_order() -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(scope_echo("a"), path="/a")
    @tiffin.mount_asgi_app(scope_echo("ab"), path="/a/b")
    class Svc:
        pass

    async with running_client(Svc) as client:
        deep = await client.get("/a/b/c")
        exact = await client.get("/a/b")
        shallow = await client.get("/a/c")
        not_a_segment = await client.get("/a/bc")
    assert deep.json() == {"app": "ab", "path": "/a/b/c", "root_path": "/a/b"}
    assert exact.json() == {"app": "ab", "path": "/a/b", "root_path": "/a/b"}
    assert shallow.json() == {"app": "a", "path": "/a/c", "root_path": "/a"}
    assert not_a_segment.json() == {"app": "a", "path": "/a/bc", "root_path": "/a"}


async def test_longest_prefix_wins_over_a_root_mount() -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(scope_echo("root"), path="/")
    @tiffin.mount_asgi_app(scope_echo("v1"), path="/v1")
    class Svc:
        pass

    async with running_client(Svc) as client:
        inner = await client.get("/v1/x")
        outer = await client.get("/v2/x")
    assert inner.json()["app"] == "v1"
    assert outer.json()["app"] == "root"


async def test_mounted_app_sees_outer_root_path_plus_prefix() -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(scope_echo("v1"), path="/v1")
    class Svc:
        pass

    app = Svc.to_asgi()
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, root_path="/outer")
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/outer/v1/x")
    assert response.json() == {"app": "v1", "path": "/outer/v1/x", "root_path": "/outer/v1"}


async def test_fastapi_mount_routes_by_full_path_and_root_path() -> None:
    inner = FastAPI()

    @inner.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, Any]:
        return {"item_id": item_id}

    @tiffin.service
    @tiffin.mount_asgi_app(inner, path="/v1")
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.get("/v1/items/7")
    assert (response.status_code, response.json()) == (200, {"item_id": 7})


# --- precedence ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/livez", "/healthz", "/readyz"])
async def test_probes_beat_a_root_mount(path: str) -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(scope_echo("root"), path="/")
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.get(path)
    assert response.status_code == 200
    assert "app" not in response.text


async def test_metrics_and_docs_beat_a_root_mount() -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(scope_echo("root"), path="/")
    class Svc:
        pass

    async with running_client(Svc) as client:
        metrics = await client.get("/metrics")
        docs = await client.get("/docs.json")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "bentoml_service_request_total" in metrics.text
    assert docs.json()["openapi"].startswith("3.")


async def test_api_beats_a_mount_at_the_same_path() -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(scope_echo("predict"), path="/predict")
    class Svc:
        @tiffin.api
        def predict(self) -> str:
            return "api"

    async with running_client(Svc) as client:
        api = await client.post("/predict")
        below = await client.get("/predict/x")
    assert (api.status_code, api.text) == (200, "api")
    assert below.json()["app"] == "predict"


# --- misses -------------------------------------------------------------------------------------


async def test_miss_under_fastapi_mount_gets_fastapi_404() -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(FastAPI(), path="/v1")
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.get("/v1/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "Not Found"}


async def test_miss_under_quart_mount_gets_quart_404() -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(Quart(__name__), path="/v1")
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.get("/v1/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Not Found" in response.text


async def test_miss_outside_every_route_is_plain_text_404() -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(FastAPI(), path="/v1")
    class Svc:
        @tiffin.api
        def predict(self) -> str:
            return ""

    async with running_client(Svc) as client:
        response = await client.get("/elsewhere")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "Not Found"


async def test_get_on_a_post_api_is_405_with_allow() -> None:
    @tiffin.service
    class Svc:
        @tiffin.api
        def predict(self) -> str:
            return ""

    async with running_client(Svc) as client:
        response = await client.get("/predict")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_post_on_a_probe_is_405_with_allow() -> None:
    @tiffin.service
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.post("/livez")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


# --- path_prefix --------------------------------------------------------------------------------


async def test_path_prefix_prefixes_apis() -> None:
    @tiffin.service(path_prefix="/pp")
    class Svc:
        @tiffin.api
        def predict(self) -> str:
            return "api"

    async with running_client(Svc) as client:
        inside = await client.post("/pp/predict")
        outside = await client.post("/predict")
    assert (inside.status_code, inside.text) == (200, "api")
    assert (outside.status_code, outside.text) == (404, "Not Found")


@pytest.mark.parametrize("probe", ["/livez", "/healthz", "/readyz", "/metrics"])
async def test_path_prefix_prefixes_infra(probe: str) -> None:
    @tiffin.service(path_prefix="/pp")
    class Svc:
        pass

    async with running_client(Svc) as client:
        inside = await client.get("/pp" + probe)
        outside = await client.get(probe)
    assert inside.status_code == 200
    assert outside.status_code == 404


async def test_path_prefix_prefixes_docs_json() -> None:
    @tiffin.service(path_prefix="pp/")
    class Svc:
        @tiffin.api
        def predict(self) -> str:
            return "api"

    async with running_client(Svc) as client:
        inside = await client.get("/pp/docs.json")
        outside = await client.get("/docs.json")
    assert inside.status_code == 200
    assert {"/pp/predict", "/pp/livez"} <= set(inside.json()["paths"])
    assert outside.status_code == 404


async def test_path_prefix_prefixes_mounts() -> None:
    @tiffin.service(path_prefix="/pp")
    @tiffin.mount_asgi_app(scope_echo("v1"), path="/v1")
    class Svc:
        pass

    async with running_client(Svc) as client:
        inside = await client.get("/pp/v1/x")
        outside = await client.get("/v1/x")
    assert inside.json() == {"app": "v1", "path": "/pp/v1/x", "root_path": "/pp/v1"}
    assert (outside.status_code, outside.text) == (404, "Not Found")


async def test_path_prefix_does_not_match_a_longer_segment() -> None:
    @tiffin.service(path_prefix="/pp")
    @tiffin.mount_asgi_app(scope_echo("root"), path="/")
    class Svc:
        pass

    async with running_client(Svc) as client:
        inside = await client.get("/pp/x")
        longer = await client.get("/ppx/x")
    assert inside.json() == {"app": "root", "path": "/pp/x", "root_path": "/pp"}
    assert (longer.status_code, longer.text) == (404, "Not Found")


# --- the index page -----------------------------------------------------------------------------


async def test_index_page_at_root() -> None:
    @tiffin.service
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for link in ("/docs", "/livez", "/metrics"):
        assert f'href="{link}"' in response.text


async def test_index_page_under_path_prefix() -> None:
    @tiffin.service(path_prefix="/pp")
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.get("/pp/")
        bare_root = await client.get("/")
    assert response.status_code == 200
    assert 'href="/pp/livez"' in response.text
    assert bare_root.status_code == 404


async def test_root_mount_claims_the_index() -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(scope_echo("root"), path="/")
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.get("/")
    assert response.json() == {"app": "root", "path": "/", "root_path": ""}


# --- websockets ---------------------------------------------------------------------------------


async def test_websocket_routes_to_the_mount() -> None:
    async def shout(websocket: WebSocket) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(f"{text.upper()} at {websocket.scope['root_path']}")
        await websocket.close()

    @tiffin.service
    @tiffin.mount_asgi_app(Starlette(routes=[WebSocketRoute("/ws", shout)]), path="/v1")
    class Svc:
        pass

    incoming: list[Message] = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hi"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/v1/ws",
        "raw_path": b"/v1/ws",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
        "subprotocols": [],
    }
    async with LifespanManager(Svc.to_asgi()) as manager:
        await manager.app(scope, receive, send)
    assert [message["type"] for message in sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    assert sent[1]["text"] == "HI at /v1"


async def test_websocket_outside_every_route_is_closed() -> None:
    @tiffin.service
    class Svc:
        pass

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/nowhere",
        "root_path": "",
        "query_string": b"",
        "headers": [],
    }
    async with LifespanManager(Svc.to_asgi()) as manager:
        await manager.app(scope, receive, send)
    assert [message["type"] for message in sent] == ["websocket.close"]


def test_two_mounts_at_one_path_fail_at_definition() -> None:
    with pytest.raises(BentoMLConfigException, match="'/v1' is used twice on service 'Svc'"):

        @tiffin.service
        @tiffin.mount_asgi_app(scope_echo("a"), path="/v1/")
        @tiffin.mount_asgi_app(scope_echo("b"), path="v1")
        class Svc:
            pass


async def test_mount_prefix_alone_answers_as_the_apps_root() -> None:
    inner = FastAPI()

    @inner.get("/")
    def root() -> str:
        return "root of v1"

    @tiffin.service
    @tiffin.mount_asgi_app(inner, path="/v1")
    class Svc:
        pass

    async with running_client(Svc) as client:
        bare = await client.get("/v1", follow_redirects=True)
        slash = await client.get("/v1/")
    assert (bare.status_code, bare.json()) == (200, "root of v1")
    assert (slash.status_code, slash.json()) == (200, "root of v1")


async def test_head_on_a_probe() -> None:
    @tiffin.service
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.head("/livez")
    assert (response.status_code, response.content) == (200, b"")


async def test_swagger_ui_at_docs() -> None:
    @tiffin.service
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/docs.json" in response.text


async def test_swagger_ui_under_path_prefix() -> None:
    @tiffin.service(path_prefix="/pp")
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.get("/pp/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/pp/docs.json" in response.text


async def test_swagger_ui_beats_a_root_mount() -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(scope_echo("root"), path="/")
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_a_method_the_api_does_not_serve_falls_through_to_a_root_mount() -> None:
    # Starlette's router (and so BentoML's) keeps a method-only match as a fallback
    # and serves a later route that matches fully; 405 only when nothing else does.
    @tiffin.service
    @tiffin.mount_asgi_app(scope_echo("root"), path="/")
    class Svc:
        @tiffin.api
        def predict(self) -> str:
            return "api"

    async with running_client(Svc) as client:
        post = await client.post("/predict")
        get = await client.get("/predict")
    assert (post.status_code, post.text) == (200, "api")
    assert get.json() == {"app": "root", "path": "/predict", "root_path": ""}
