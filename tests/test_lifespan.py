"""CONTRACT section 9: startup and shutdown, as recorded event sequences.

Every step appends to one ``events`` list: the service's ``__init__`` and hooks,
each mounted app's startup and shutdown, and (where a test drives the composed
app through the ASGI lifespan protocol itself) each message the composed app
sends, as ``"sent <type>"``.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI, Request
from quart import Quart
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

import tiffin
from tests.conftest import running_client
from tiffin.exceptions import StartupError

Events = list[str]
GATE_TIMEOUT = 5


# --- one recording app per framework -------------------------------------------------------


def make_fastapi(events: Events, name: str, *, fail: str = "", state: Any = None) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        events.append(f"{name} startup")
        if fail == "startup":
            raise RuntimeError(f"{name} could not start")
        yield state
        events.append(f"{name} shutdown")
        if fail == "shutdown":
            raise RuntimeError(f"{name} could not stop")

    app = FastAPI(lifespan=lifespan)

    @app.get("/state")
    async def read_state(request: Request) -> dict[str, Any]:
        seen = {"x": request.state.x, "marker": getattr(request.state, "marker", None)}
        request.state.x = "mutated"
        request.state.marker = "set by an earlier request"
        return seen

    return app


def make_quart(events: Events, name: str, *, fail: str = "") -> Any:
    app = Quart(name)

    @app.before_serving
    async def startup() -> None:
        events.append(f"{name} startup")
        if fail == "startup":
            raise RuntimeError(f"{name} could not start")

    @app.after_serving
    async def shutdown() -> None:
        events.append(f"{name} shutdown")
        if fail == "shutdown":
            raise RuntimeError(f"{name} could not stop")

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    return app


def make_starlette(events: Events, name: str, *, fail: str = "", state: Any = None) -> Any:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[Any]:
        events.append(f"{name} startup")
        if fail == "startup":
            raise RuntimeError(f"{name} could not start")
        yield state
        events.append(f"{name} shutdown")
        if fail == "shutdown":
            raise RuntimeError(f"{name} could not stop")

    async def read_state(request: StarletteRequest) -> JSONResponse:
        seen = {"x": request.state.x, "marker": getattr(request.state, "marker", None)}
        request.state.x = "mutated"
        request.state.marker = "set by an earlier request"
        return JSONResponse(seen)

    return Starlette(routes=[Route("/state", read_state)], lifespan=lifespan)


def make_bare(events: Events, name: str, *, fail: str = "") -> Any:
    """A bare ASGI callable speaking the lifespan protocol; it fails by sending ``*.failed``."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            events.append(f"{name} startup")
            if fail == "startup":
                message = f"{name} could not start"
                await send({"type": "lifespan.startup.failed", "message": message})
                return
            await send({"type": "lifespan.startup.complete"})
            await receive()
            events.append(f"{name} shutdown")
            if fail == "shutdown":
                message = f"{name} could not stop"
                await send({"type": "lifespan.shutdown.failed", "message": message})
                return
            await send({"type": "lifespan.shutdown.complete"})
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": name.encode()})

    return app


def make_bare_raising(events: Events, name: str, *, fail: str = "") -> Any:
    """A bare ASGI callable that fails by raising after it received the lifespan message."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            return
        await receive()
        events.append(f"{name} startup")
        if fail == "startup":
            raise RuntimeError(f"{name} could not start")
        await send({"type": "lifespan.startup.complete"})
        await receive()
        events.append(f"{name} shutdown")
        if fail == "shutdown":
            raise RuntimeError(f"{name} could not stop")
        await send({"type": "lifespan.shutdown.complete"})

    return app


FRAMEWORKS: dict[str, Callable[..., Any]] = {
    "fastapi": make_fastapi,
    "quart": make_quart,
    "starlette": make_starlette,
    "bare": make_bare,
}
FAILING: dict[str, Callable[..., Any]] = {**FRAMEWORKS, "bare-raising": make_bare_raising}


def recorded_service(events: Events, name: str = "Recorded") -> Any:
    @tiffin.service(name=name)
    class Recorded:
        def __init__(self) -> None:
            events.append("__init__")

        @tiffin.on_startup
        async def first(self) -> None:
            events.append("on_startup first")

        @tiffin.on_startup
        def second(self) -> None:
            events.append("on_startup second")

        @tiffin.on_shutdown
        def close(self) -> None:
            events.append("on_shutdown")

    return Recorded


async def drive_lifespan(app: Any, events: Events) -> list[dict[str, Any]]:
    """Run the composed app's lifespan as a server would: startup, then shutdown at once.

    An app that raises after answering ``*.failed`` (as Starlette does) is recorded
    as ``"raised <type>"``.
    """
    sent: list[dict[str, Any]] = []
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        try:
            return next(incoming)
        except StopIteration:
            await asyncio.sleep(GATE_TIMEOUT)
            raise AssertionError("the app asked for a third lifespan message") from None

    async def send(message: dict[str, Any]) -> None:
        events.append(f"sent {message['type']}")
        sent.append(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    try:
        await asyncio.wait_for(app(scope, receive, send), timeout=GATE_TIMEOUT)
    except Exception as exc:
        events.append(f"raised {type(exc).__name__}")
    return sent


# --- order ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(FRAMEWORKS))
async def test_startup_and_shutdown_order_for_each_framework(kind: str) -> None:
    events: Events = []
    service = recorded_service(events)
    service.mount_asgi_app(FRAMEWORKS[kind](events, "a"), path="/a")
    service.mount_asgi_app(FRAMEWORKS[kind](events, "b"), path="/b")

    await drive_lifespan(service.to_asgi(), events)

    assert events == [
        "__init__",
        "on_startup first",
        "on_startup second",
        "a startup",
        "b startup",
        "sent lifespan.startup.complete",
        "b shutdown",
        "a shutdown",
        "on_shutdown",
        "sent lifespan.shutdown.complete",
    ]


async def test_startup_and_shutdown_order_across_frameworks() -> None:
    events: Events = []
    service = recorded_service(events)
    for kind, factory in FRAMEWORKS.items():
        service.mount_asgi_app(factory(events, kind), path=f"/{kind}")

    async with running_client(service) as client:
        events.append("serving")
        assert (await client.get("/readyz")).status_code == 200

    assert events == [
        "__init__",
        "on_startup first",
        "on_startup second",
        "fastapi startup",
        "quart startup",
        "starlette startup",
        "bare startup",
        "serving",
        "bare shutdown",
        "starlette shutdown",
        "quart shutdown",
        "fastapi shutdown",
        "on_shutdown",
    ]


async def test_mount_order_with_stacked_decorators_is_the_order_they_apply() -> None:
    events: Events = []
    outer, inner = make_bare(events, "outer"), make_bare(events, "inner")

    @tiffin.service
    @tiffin.mount_asgi_app(outer, path="/outer")
    @tiffin.mount_asgi_app(inner, path="/inner")
    class Stacked:
        pass

    async with running_client(Stacked):
        pass

    # decorators apply bottom-up: /inner is mounted first
    assert events == ["inner startup", "outer startup", "outer shutdown", "inner shutdown"]


@pytest.mark.parametrize("behaviour", ["raises", "returns"])
async def test_an_app_that_does_not_speak_lifespan_is_skipped_quietly(
    behaviour: str, caplog: pytest.LogCaptureFixture
) -> None:
    events: Events = []

    async def no_lifespan(scope: Any, receive: Any, send: Any) -> None:
        if behaviour == "raises":
            assert scope["type"] == "http"
        elif scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain"})

    service = recorded_service(events)
    service.mount_asgi_app(no_lifespan, path="/plain")
    service.mount_asgi_app(make_bare(events, "after"), path="/after")

    with caplog.at_level(logging.WARNING):
        async with running_client(service) as client:
            plain = await client.get("/plain/x")
            ready = await client.get("/readyz")

    assert (plain.status_code, plain.text) == (200, "plain")
    assert ready.status_code == 200
    assert events == [
        "__init__",
        "on_startup first",
        "on_startup second",
        "after startup",
        "after shutdown",
        "on_shutdown",
    ]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("kind", list(FRAMEWORKS))
async def test_the_same_app_mounted_twice_starts_once(kind: str) -> None:
    events: Events = []
    shared = FRAMEWORKS[kind](events, "shared")

    @tiffin.service
    class Twice:
        pass

    Twice.mount_asgi_app(shared, path="/one")
    Twice.mount_asgi_app(shared, path="/two")

    await drive_lifespan(Twice.to_asgi(), events)

    assert events == [
        "shared startup",
        "sent lifespan.startup.complete",
        "shared shutdown",
        "sent lifespan.shutdown.complete",
    ]


# --- state --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fastapi", "starlette"])
async def test_state_yielded_by_a_mounted_lifespan_reaches_its_requests_copied(
    kind: str,
) -> None:
    app = FRAMEWORKS[kind]([], kind, state={"x": f"from the {kind} lifespan"})

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Stateful:
        pass

    async with running_client(Stateful) as client:
        first = await client.get("/v1/state")
        second = await client.get("/v1/state")

    expected = {"x": f"from the {kind} lifespan", "marker": None}
    assert (first.status_code, first.json()) == (200, expected)
    assert (second.status_code, second.json()) == (200, expected)


async def test_state_reaches_an_app_mounted_twice_at_both_paths() -> None:
    app = make_fastapi([], "shared", state={"x": "shared state"})

    @tiffin.service
    class Twice:
        pass

    Twice.mount_asgi_app(app, path="/one")
    Twice.mount_asgi_app(app, path="/two")

    async with running_client(Twice) as client:
        one = await client.get("/one/state")
        two = await client.get("/two/state")

    assert one.json() == {"x": "shared state", "marker": None}
    assert two.json() == {"x": "shared state", "marker": None}


async def test_each_mounted_app_gets_its_own_state() -> None:
    first = make_fastapi([], "first", state={"x": "first"})
    second = make_starlette([], "second", state={"x": "second"})

    @tiffin.service
    class Two:
        pass

    Two.mount_asgi_app(first, path="/first")
    Two.mount_asgi_app(second, path="/second")

    async with running_client(Two) as client:
        one = await client.get("/first/state")
        two = await client.get("/second/state")

    assert one.json()["x"] == "first"
    assert two.json()["x"] == "second"


# --- failures -------------------------------------------------------------------------------


async def test_a_failing_init_fails_startup_naming_the_service() -> None:
    events: Events = []

    @tiffin.service(name="Broken")
    class Broken:
        def __init__(self) -> None:
            events.append("__init__")
            raise ValueError("no model file")

        @tiffin.on_startup
        def load(self) -> None:
            events.append("on_startup")

        @tiffin.on_shutdown
        def close(self) -> None:
            events.append("on_shutdown")

    Broken.mount_asgi_app(make_bare(events, "mounted"), path="/m")

    with pytest.raises(StartupError) as caught:
        async with Broken.to_asgi().running():
            events.append("serving")

    assert events == ["__init__"]
    assert "Broken" in str(caught.value)
    assert "no model file" in str(caught.value)


async def test_a_failing_on_startup_hook_shuts_down_what_started() -> None:
    events: Events = []

    @tiffin.service(name="HookFails")
    class HookFails:
        def __init__(self) -> None:
            events.append("__init__")

        @tiffin.on_startup
        def first(self) -> None:
            events.append("on_startup first")

        @tiffin.on_startup
        async def second(self) -> None:
            events.append("on_startup second")
            raise RuntimeError("cache unreachable")

        @tiffin.on_shutdown
        def close(self) -> None:
            events.append("on_shutdown")

    HookFails.mount_asgi_app(make_bare(events, "mounted"), path="/m")

    with pytest.raises(StartupError) as caught:
        async with HookFails.to_asgi().running():
            events.append("serving")

    assert events == ["__init__", "on_startup first", "on_startup second", "on_shutdown"]
    message = str(caught.value)
    assert "HookFails" in message
    assert "second" in message
    assert "cache unreachable" in message


@pytest.mark.parametrize("kind", list(FAILING))
async def test_a_failing_mounted_app_shuts_down_what_started_in_reverse(kind: str) -> None:
    events: Events = []
    service = recorded_service(events, name="MountFails")
    service.mount_asgi_app(make_fastapi(events, "ok"), path="/ok")
    service.mount_asgi_app(FAILING[kind](events, "bad", fail="startup"), path="/bad")
    service.mount_asgi_app(make_bare(events, "never"), path="/never")

    with pytest.raises(StartupError) as caught:
        async with service.to_asgi().running():
            events.append("serving")

    assert events == [
        "__init__",
        "on_startup first",
        "on_startup second",
        "ok startup",
        "bad startup",
        "ok shutdown",
        "on_shutdown",
    ]
    message = str(caught.value)
    assert "MountFails" in message
    assert "/bad" in message
    assert "bad could not start" in message


@pytest.mark.parametrize("kind", list(FAILING))
async def test_a_failed_startup_answers_lifespan_startup_failed_after_the_rollback(
    kind: str,
) -> None:
    events: Events = []
    service = recorded_service(events, name="MountFails")
    service.mount_asgi_app(make_bare(events, "ok"), path="/ok")
    service.mount_asgi_app(FAILING[kind](events, "bad", fail="startup"), path="/bad")

    sent = await drive_lifespan(service.to_asgi(), events)

    assert events == [
        "__init__",
        "on_startup first",
        "on_startup second",
        "ok startup",
        "bad startup",
        "ok shutdown",
        "on_shutdown",
        "sent lifespan.startup.failed",
        "raised StartupError",
    ]
    message = sent[-1]["message"]
    assert "MountFails" in message
    assert "/bad" in message
    assert "bad could not start" in message


async def test_a_failed_startup_fails_fast() -> None:
    events: Events = []
    service = recorded_service(events, name="Fast")
    service.mount_asgi_app(make_bare(events, "bad", fail="startup"), path="/bad")

    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(StartupError):
        async with service.to_asgi().running():
            pass

    assert loop.time() - began < 2


@pytest.mark.parametrize("kind", list(FAILING))
async def test_shutdown_runs_every_step_even_when_one_fails(kind: str) -> None:
    events: Events = []

    @tiffin.service(name="ShutdownFails")
    class ShutdownFails:
        @tiffin.on_shutdown
        def close(self) -> None:
            events.append("on_shutdown")

    ShutdownFails.mount_asgi_app(make_fastapi(events, "a"), path="/a")
    ShutdownFails.mount_asgi_app(FAILING[kind](events, "b", fail="shutdown"), path="/b")
    ShutdownFails.mount_asgi_app(make_starlette(events, "c"), path="/c")

    sent = await drive_lifespan(ShutdownFails.to_asgi(), events)

    assert events == [
        "a startup",
        "b startup",
        "c startup",
        "sent lifespan.startup.complete",
        "c shutdown",
        "b shutdown",
        "a shutdown",
        "on_shutdown",
        "sent lifespan.shutdown.failed",
        "raised ShutdownError",
    ]
    message = sent[-1]["message"]
    assert "ShutdownFails" in message
    assert "/b" in message
    assert "b could not stop" in message


async def test_a_failing_on_shutdown_hook_does_not_stop_the_others() -> None:
    events: Events = []

    @tiffin.service(name="HookShutdownFails")
    class HookShutdownFails:
        @tiffin.on_shutdown
        def broken(self) -> None:
            events.append("on_shutdown broken")
            raise RuntimeError("flush failed")

        @tiffin.on_shutdown
        async def fine(self) -> None:
            events.append("on_shutdown fine")

    HookShutdownFails.mount_asgi_app(make_bare(events, "mounted"), path="/m")

    sent = await drive_lifespan(HookShutdownFails.to_asgi(), events)

    assert events[:3] == ["mounted startup", "sent lifespan.startup.complete", "mounted shutdown"]
    assert sorted(events[3:5]) == ["on_shutdown broken", "on_shutdown fine"]
    assert events[5:] == ["sent lifespan.shutdown.failed", "raised ShutdownError"]
    assert "flush failed" in sent[-1]["message"]
