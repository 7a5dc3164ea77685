"""CONTRACT section 4: ``get_current_service()`` answers the instance of the service serving."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import pytest
from asgi_lifespan import LifespanManager
from fastapi import Depends, FastAPI, WebSocket
from quart import Quart
from starlette.types import Message, Receive, Scope, Send

import tiffin
from tests.conftest import running_client


def current_name() -> str:
    return type(tiffin.get_current_service()).__name__


async def current_name_async() -> str:
    await asyncio.sleep(0)
    return type(tiffin.get_current_service()).__name__


# --- inside the requests the composed app serves ------------------------------------------------


async def test_inside_sync_and_async_apis() -> None:
    seen: list[tuple[str, bool]] = []

    @tiffin.service
    class Svc:
        @tiffin.api
        def sync_api(self) -> str:
            seen.append(("sync", tiffin.get_current_service() is self))
            return "ok"

        @tiffin.api
        async def async_api(self) -> str:
            seen.append(("async", tiffin.get_current_service() is self))
            return "ok"

    async with running_client(Svc) as client:
        statuses = [(await client.post(path)).status_code for path in ("/sync_api", "/async_api")]
    assert statuses == [200, 200]
    assert seen == [("sync", True), ("async", True)]


async def test_inside_readiness_and_liveness_checks() -> None:
    @tiffin.service
    class Svc:
        def __is_ready__(self) -> bool:
            return tiffin.get_current_service() is self

        def __is_alive__(self) -> bool:
            return tiffin.get_current_service() is self

    async with running_client(Svc) as client:
        statuses = [(await client.get(path)).status_code for path in ("/readyz", "/livez")]
    assert statuses == [200, 200]


async def test_fastapi_depends_sync_and_async() -> None:
    app = FastAPI()

    @app.get("/sync")
    def sync_route(name: str = Depends(current_name)) -> str:
        return name

    @app.get("/async")
    async def async_route(name: str = Depends(current_name_async)) -> str:
        return name

    @app.get("/direct")
    async def direct_route(service: Annotated[Any, Depends(tiffin.get_current_service)]) -> str:
        return type(service).__name__

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        pass

    async with running_client(Svc) as client:
        answers = [(await client.get(f"/v1/{p}")).json() for p in ("sync", "async", "direct")]
    assert answers == ["Svc", "Svc", "Svc"]


async def test_fastapi_sync_route_in_a_thread() -> None:
    app = FastAPI()
    threads: list[bool] = []

    @app.get("/hello")
    def hello() -> str:
        threads.append(threading.current_thread() is threading.main_thread())
        return current_name()

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.get("/v1/hello")
    assert (response.status_code, response.json()) == (200, "Svc")
    assert threads == [False]


async def test_quart_async_and_sync_handlers() -> None:
    app = Quart(__name__)

    @app.get("/async")
    async def async_handler() -> str:
        return current_name()

    @app.get("/sync")
    def sync_handler() -> str:
        return current_name()

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        pass

    async with running_client(Svc) as client:
        answers = [(await client.get(f"/v1/{p}")).text for p in ("async", "sync")]
    assert answers == ["Svc", "Svc"]


async def test_websocket_route() -> None:
    app = FastAPI()

    @app.websocket("/ws")
    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(current_name())
        await websocket.close()

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Svc:
        pass

    incoming: list[Message] = [{"type": "websocket.connect"}]
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
    assert [(m["type"], m.get("text")) for m in sent] == [
        ("websocket.accept", None),
        ("websocket.send", "Svc"),
        ("websocket.close", None),
    ]


# --- inside the lifespan ------------------------------------------------------------------------


async def test_startup_and_shutdown_hooks() -> None:
    events: list[tuple[str, bool]] = []

    @tiffin.service
    class Svc:
        @tiffin.on_startup
        async def start(self) -> None:
            events.append(("startup", tiffin.get_current_service() is self))

        @tiffin.on_shutdown
        def stop(self) -> None:
            events.append(("shutdown", tiffin.get_current_service() is self))

    async with running_client(Svc):
        events.append(("serving", True))
    assert events == [("startup", True), ("serving", True), ("shutdown", True)]


async def test_mounted_fastapi_lifespan() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append(f"startup {current_name()}")
        yield
        events.append(f"shutdown {current_name()}")

    @tiffin.service
    @tiffin.mount_asgi_app(FastAPI(lifespan=lifespan), path="/v1")
    class Svc:
        pass

    async with running_client(Svc):
        events.append("serving")
    assert events == ["startup Svc", "serving", "shutdown Svc"]


async def test_mounted_bare_asgi_lifespan() -> None:
    events: list[str] = []

    async def bare(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        events.append(f"startup {current_name()}")
        await send({"type": "lifespan.startup.complete"})
        await receive()
        events.append(f"shutdown {current_name()}")
        await send({"type": "lifespan.shutdown.complete"})

    @tiffin.service
    @tiffin.mount_asgi_app(bare, path="/bare")
    class Svc:
        pass

    async with running_client(Svc):
        events.append("serving")
    assert events == ["startup Svc", "serving", "shutdown Svc"]


# --- two composed apps in one process -----------------------------------------------------------


async def test_two_services_served_concurrently_never_mix() -> None:
    shared = FastAPI()
    both_arrived = asyncio.Event()
    arrivals: list[str] = []

    @shared.get("/who")
    async def who(service: Annotated[Any, Depends(tiffin.get_current_service)]) -> list[str]:
        before = type(service).__name__
        arrivals.append(before)
        if len(arrivals) == 2:
            both_arrived.set()
        await asyncio.wait_for(both_arrived.wait(), timeout=5)
        return [before, current_name()]

    @tiffin.service
    @tiffin.mount_asgi_app(shared, path="/v1")
    class First:
        @tiffin.api
        async def api(self) -> str:
            await asyncio.sleep(0.01)
            return current_name()

    @tiffin.service
    @tiffin.mount_asgi_app(shared, path="/v1")
    class Second:
        @tiffin.api
        def api(self) -> str:
            return current_name()

    async with running_client(First) as first, running_client(Second) as second:
        answers = await asyncio.gather(
            first.get("/v1/who"),
            second.get("/v1/who"),
            *(client.post("/api") for client in (first, second) * 5),
        )
    assert [answer.json() for answer in answers[:2]] == [["First", "First"], ["Second", "Second"]]
    assert [answer.text for answer in answers[2:]] == ["First", "Second"] * 5
    assert sorted(arrivals) == ["First", "Second"]


async def test_two_composed_apps_of_one_service_have_their_own_instances() -> None:
    @tiffin.service
    class Svc:
        @tiffin.api
        async def me(self) -> int:
            assert tiffin.get_current_service() is self
            return id(self)

    async with running_client(Svc) as first, running_client(Svc) as second:
        answers = await asyncio.gather(*(client.post("/me") for client in (first, second) * 3))
    ids = [answer.json() for answer in answers]
    assert ids[0::2] == [ids[0]] * 3
    assert ids[1::2] == [ids[1]] * 3
    assert ids[0] != ids[1]


# --- outside a running service ------------------------------------------------------------------


def test_outside_any_service_raises() -> None:
    with pytest.raises(tiffin.ServiceNotRunning) as info:
        tiffin.get_current_service()
    assert isinstance(info.value, RuntimeError)
    message = str(info.value)
    assert "get_current_service()" in message
    assert "request handler" in message
    assert "on_startup" in message


def test_at_module_import_raises(tmp_path: Any) -> None:
    source = tmp_path / "uses_service_at_import.py"
    source.write_text("import tiffin\nSERVICE = tiffin.get_current_service()\n")
    namespace: dict[str, Any] = {"__name__": "uses_service_at_import"}
    with pytest.raises(tiffin.ServiceNotRunning):
        exec(compile(source.read_text(), str(source), "exec"), namespace)
    assert "SERVICE" not in namespace


async def test_in_init_raises_with_advice() -> None:
    caught: list[str] = []

    @tiffin.service
    class Svc:
        def __init__(self) -> None:
            try:
                tiffin.get_current_service()
            except tiffin.ServiceNotRunning as exc:
                caught.append(str(exc))

    async with running_client(Svc) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert len(caught) == 1
    assert "In __init__ use `self`" in caught[0]


async def test_after_shutdown_raises() -> None:
    @tiffin.service
    class Svc:
        @tiffin.api
        async def ping(self) -> str:
            return current_name()

    async with running_client(Svc) as client:
        assert (await client.post("/ping")).text == "Svc"
    with pytest.raises(tiffin.ServiceNotRunning):
        tiffin.get_current_service()


async def test_after_running_in_the_same_task_raises() -> None:
    @tiffin.service
    class Svc:
        pass

    app = Svc.to_asgi()
    async with app.running():
        inside = current_name()
    assert inside == "Svc"
    with pytest.raises(tiffin.ServiceNotRunning):
        tiffin.get_current_service()


# --- threads started by user code ---------------------------------------------------------------


def name_in_thread() -> str:
    result: list[str] = []

    def target() -> None:
        try:
            result.append(current_name())
        except tiffin.ServiceNotRunning:
            result.append("ServiceNotRunning")

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=5)
    return result[0]


async def test_thread_started_in_a_handler_sees_the_only_running_service() -> None:
    @tiffin.service
    class Svc:
        @tiffin.api
        async def spawn(self) -> str:
            return await asyncio.to_thread(name_in_thread)

    async with running_client(Svc) as client:
        response = await client.post("/spawn")
    assert (response.status_code, response.text) == (200, "Svc")


async def test_thread_sees_the_only_running_service() -> None:
    @tiffin.service
    class Svc:
        pass

    before = name_in_thread()
    async with running_client(Svc):
        during = name_in_thread()
    after = name_in_thread()
    assert [before, during, after] == ["ServiceNotRunning", "Svc", "ServiceNotRunning"]


async def test_thread_cannot_choose_between_two_running_services() -> None:
    @tiffin.service
    class First:
        pass

    @tiffin.service
    class Second:
        pass

    async with running_client(First), running_client(Second):
        answer = name_in_thread()
    assert answer == "ServiceNotRunning"
