"""The probe app mounted on the reference service, written once per framework.

Every framework's probe serves the same routes with the same JSON answers, so a
check reads the same way whatever is mounted (paths relative to the mount):

| route | answer |
|---|---|
| ``GET /`` | ``{"root": true}`` |
| ``GET /scope`` | the ``path`` and ``root_path`` the app was given |
| ``GET /whoami``, ``GET /whoami-sync`` | ``{"token": get_current_service().token}`` (async, sync) |
| ``GET /state`` | the value its lifespan yielded as state |
| ``GET /sleep?seconds=``, ``GET /sleep-sync?seconds=`` | sleeps, then ``{"slept": seconds}`` |
| ``GET /boom`` | raises before it responds |
| ``GET /items/{item_id}`` | ``{"item_id": ...}`` |
| ``WS /ws`` | sends ``{"token": ...}`` and closes |

Every answer, a miss included, carries ``x-probe: <framework>``: it shows the
mounted app, not the server, made the response. The lifespan records
``<label> startup current=<token|none>`` and ``<label> shutdown`` in the event log.
"""

# No ``from __future__ import annotations``: FastAPI resolves the parameter types of
# these routes at definition time, and they are imported inside the builders.

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from tiffin.conformance.events import EventLog

PROBE_HEADER = "x-probe"
STATE_VALUE = "from the probe lifespan"


class Probe:
    """What the reference service needs from a probe app: the app and its label."""

    def __init__(self, app: Any, framework: str, label: str) -> None:
        self.app = app
        self.framework = framework
        self.label = label


def current_token(get_current_service: Callable[[], Any]) -> str:
    """The running instance's token, or ``none`` where no service is current."""
    try:
        return str(get_current_service().token)
    except Exception:
        return "none"


class _Lifecycle:
    """The probe's lifespan steps, shared by every framework's hooks."""

    def __init__(
        self, events: EventLog, label: str, current: Callable[[], Any], fail: bool
    ) -> None:
        self.events, self.label, self.current, self.fail = events, label, current, fail

    def startup(self) -> None:
        self.events.record(f"{self.label} startup current={current_token(self.current)}")
        if self.fail:
            raise RuntimeError(f"{self.label} startup failed on purpose")

    def shutdown(self) -> None:
        self.events.record(f"{self.label} shutdown")

    async def sleep(self, seconds: float) -> dict[str, float]:
        self.events.record(f"{self.label} sleep started")
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.events.record(f"{self.label} sleep cancelled")
            raise
        return {"slept": seconds}

    def sleep_sync(self, seconds: float) -> dict[str, float]:
        self.events.record(f"{self.label} sleep-sync started")
        time.sleep(seconds)
        self.events.record(f"{self.label} sleep-sync returned")
        return {"slept": seconds}

    def boom(self) -> None:
        raise RuntimeError(f"{self.label} /boom raised on purpose")


class ProbeHeader:
    """Tags every HTTP response of the app it wraps (inside FastAPI's/Starlette's stack)."""

    def __init__(self, app: Any, framework: str) -> None:
        self.app, self.value = app, framework.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def tagged(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (PROBE_HEADER.encode(), self.value)],
                }
            await send(message)

        await self.app(scope, receive, tagged if scope["type"] == "http" else send)


def build_probe(
    framework: str,
    events: EventLog,
    current: Callable[[], Any],
    *,
    label: str = "",
    fail_startup: bool = False,
    lifespan: bool = True,
) -> Probe:
    label = label or framework
    life = _Lifecycle(events, label, current, fail_startup)
    builders = {"fastapi": _fastapi, "starlette": _starlette, "quart": _quart, "asgi": _asgi}
    if framework not in builders:
        raise ValueError(f"unknown framework {framework!r}: expected one of {sorted(builders)}")
    return Probe(builders[framework](life, lifespan), framework, label)


def _fastapi(life: _Lifecycle, lifespan: bool) -> Any:
    from fastapi import FastAPI, Request, WebSocket

    @asynccontextmanager
    async def run(app: Any) -> AsyncIterator[dict[str, str]]:
        life.startup()
        yield {"probe": STATE_VALUE}
        life.shutdown()

    app = FastAPI(lifespan=run if lifespan else None)
    app.add_middleware(ProbeHeader, framework="fastapi")

    @app.get("/")
    async def root() -> dict[str, bool]:
        return {"root": True}

    @app.get("/scope")
    async def scope(request: Request) -> dict[str, str]:
        return {"path": request.scope["path"], "root_path": request.scope["root_path"]}

    @app.get("/whoami")
    async def whoami() -> dict[str, str]:
        return {"token": current_token(life.current)}

    @app.get("/whoami-sync")
    def whoami_sync() -> dict[str, str]:
        return {"token": current_token(life.current)}

    @app.get("/state")
    async def state(request: Request) -> dict[str, Any]:
        return {"state": getattr(request.state, "probe", None)}

    @app.get("/sleep")
    async def sleep(seconds: float = 0) -> dict[str, float]:
        return await life.sleep(seconds)

    @app.get("/sleep-sync")
    def sleep_sync(seconds: float = 0) -> dict[str, float]:
        return life.sleep_sync(seconds)

    @app.get("/boom")
    async def boom() -> None:
        life.boom()

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"item_id": item_id}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"token": current_token(life.current)})
        await websocket.close()

    return app


def _starlette(life: _Lifecycle, lifespan: bool) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket

    @asynccontextmanager
    async def run(app: Any) -> AsyncIterator[dict[str, str]]:
        life.startup()
        yield {"probe": STATE_VALUE}
        life.shutdown()

    def seconds(request: Request) -> float:
        return float(request.query_params.get("seconds", 0))

    async def root(request: Request) -> JSONResponse:
        return JSONResponse({"root": True})

    async def scope(request: Request) -> JSONResponse:
        return JSONResponse(
            {"path": request.scope["path"], "root_path": request.scope["root_path"]}
        )

    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"token": current_token(life.current)})

    def whoami_sync(request: Request) -> JSONResponse:
        return JSONResponse({"token": current_token(life.current)})

    async def state(request: Request) -> JSONResponse:
        return JSONResponse({"state": getattr(request.state, "probe", None)})

    async def sleep(request: Request) -> JSONResponse:
        return JSONResponse(await life.sleep(seconds(request)))

    def sleep_sync(request: Request) -> JSONResponse:
        return JSONResponse(life.sleep_sync(seconds(request)))

    async def boom(request: Request) -> JSONResponse:
        life.boom()
        raise AssertionError("unreachable")

    async def item(request: Request) -> JSONResponse:
        return JSONResponse({"item_id": request.path_params["item_id"]})

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"token": current_token(life.current)})
        await websocket.close()

    routes = [
        Route("/", root),
        Route("/scope", scope),
        Route("/whoami", whoami),
        Route("/whoami-sync", whoami_sync),
        Route("/state", state),
        Route("/sleep", sleep),
        Route("/sleep-sync", sleep_sync),
        Route("/boom", boom),
        Route("/items/{item_id}", item),
        WebSocketRoute("/ws", ws),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(ProbeHeader, framework="starlette")],
        lifespan=run if lifespan else None,
    )


def _quart(life: _Lifecycle, lifespan: bool) -> Any:
    from quart import Quart, request, websocket

    app = Quart("tiffin_conformance_probe")
    if lifespan:
        app.before_serving(_as_async(life.startup))
        app.after_serving(_as_async(life.shutdown))

    @app.after_request
    async def tag(response: Any) -> Any:
        response.headers[PROBE_HEADER] = "quart"
        return response

    def seconds() -> float:
        return float(request.args.get("seconds", 0))

    @app.get("/")
    async def root() -> dict[str, bool]:
        return {"root": True}

    @app.get("/scope")
    async def scope() -> dict[str, str]:
        return {"path": request.scope["path"], "root_path": request.scope["root_path"]}

    @app.get("/whoami")
    async def whoami() -> dict[str, str]:
        return {"token": current_token(life.current)}

    @app.get("/whoami-sync")
    def whoami_sync() -> dict[str, str]:
        return {"token": current_token(life.current)}

    @app.get("/sleep")
    async def sleep() -> dict[str, float]:
        return await life.sleep(seconds())

    @app.get("/sleep-sync")
    def sleep_sync() -> dict[str, float]:
        return life.sleep_sync(seconds())

    @app.get("/boom")  # type: ignore[type-var]
    async def boom() -> None:
        life.boom()

    @app.get("/items/<item_id>")
    async def item(item_id: str) -> dict[str, str]:
        return {"item_id": item_id}

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send(json.dumps({"token": current_token(life.current)}))
        await websocket.receive()  # until the client closes: returning first could drop the send

    return app


def _as_async(step: Callable[[], None]) -> Callable[[], Any]:
    async def run() -> None:
        step()

    return run


def _asgi(life: _Lifecycle, lifespan: bool) -> Any:
    """A bare ASGI callable: no framework, its own tiny router."""

    async def respond(send: Any, status: int, body: Any) -> None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        kind = b"application/json" if not isinstance(body, bytes) else b"text/plain"
        headers = [(b"content-type", kind), (PROBE_HEADER.encode(), b"asgi")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def run_lifespan(scope: Any, receive: Any, send: Any) -> None:
        if not lifespan:
            raise RuntimeError("this app does not speak the lifespan protocol")
        await receive()
        try:
            life.startup()
        except RuntimeError as exc:
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        scope.get("state", {})["probe"] = STATE_VALUE
        await send({"type": "lifespan.startup.complete"})
        await receive()
        life.shutdown()
        await send({"type": "lifespan.shutdown.complete"})

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await run_lifespan(scope, receive, send)
            return
        path = scope["path"][len(scope.get("root_path", "")) :] or "/"
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            if path != "/ws":
                await send({"type": "websocket.close", "code": 1000})
                return
            await send({"type": "websocket.accept"})
            text = json.dumps({"token": current_token(life.current)})
            await send({"type": "websocket.send", "text": text})
            await send({"type": "websocket.close", "code": 1000})
            return
        query = parse_qs(scope.get("query_string", b"").decode())
        seconds = float(query.get("seconds", ["0"])[0])
        if path == "/":
            await respond(send, 200, {"root": True})
        elif path == "/scope":
            await respond(send, 200, {"path": scope["path"], "root_path": scope["root_path"]})
        elif path == "/whoami":
            await respond(send, 200, {"token": current_token(life.current)})
        elif path == "/state":
            await respond(send, 200, {"state": scope.get("state", {}).get("probe")})
        elif path == "/sleep":
            await respond(send, 200, await life.sleep(seconds))
        elif path == "/boom":
            life.boom()
        else:
            await respond(send, 404, b"Not Found")

    return app
