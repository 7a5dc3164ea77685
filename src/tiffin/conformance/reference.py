"""The reference service: one definition, built by any implementation of the API.

``build_reference_service(spec, impl)`` defines the same service with whatever
module is passed as ``impl`` (``tiffin``, or ``bentoml`` itself), the way a user
would write it: ``@impl.service``, ``@impl.asgi_app``, ``@impl.api``, hooks,
routes in the class body, ``add_asgi_middleware``.
"""

# No ``from __future__ import annotations``: routes in the class body annotate
# parameters with framework types imported in this function, which FastAPI could
# not resolve from strings.

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from tiffin.conformance.events import EventLog
from tiffin.conformance.probes import Probe, build_probe, current_token
from tiffin.conformance.spec import ServiceSpec

SERVICE_NAME = "Reference"
TRAIL_HEADER = "x-middleware-trail"
API_ROUTES = (  # the first is the one checks of "any API" use: every input is optional
    "/hello",
    "/echo",
    "/echo_sync",
    "/whoami",
    "/whoami_sync",
    "/sleep",
    "/sleep_sync",
    "/boom",
    "/invalid",
    "/count",
    "/meet_sync",
    "/custom/route",
)
# How long a sync API waits for its partner in /meet_sync: long enough for a loaded
# machine, short enough that an implementation running sync APIs one at a time fails fast.
MEET_SECONDS = 3.0


class TrailMiddleware:
    """A user middleware that leaves its label on the way in and on the response.

    The response header lists labels outermost first (each prepends its own), and
    the event log gets ``middleware <label> <scope type> <path>`` per connection.
    """

    def __init__(self, app: Any, label: str, events_path: str) -> None:
        self.app, self.label, self.events = app, label, EventLog(events_path)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        self.events.record(f"middleware {self.label} {scope['type']} {scope['path']}")

        async def trailed(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                before = [value for name, value in headers if name.lower() == TRAIL_HEADER.encode()]
                headers = [(n, v) for n, v in headers if n.lower() != TRAIL_HEADER.encode()]
                trail = self.label.encode() + (b"," + before[0] if before else b"")
                message = {**message, "headers": [*headers, (TRAIL_HEADER.encode(), trail)]}
            await send(message)

        await self.app(scope, receive, trailed)


def build_reference_service(spec: ServiceSpec, impl: ModuleType) -> Any:
    events = EventLog(spec.events_path)
    current = impl.get_current_service
    probe = build_probe(
        spec.framework, events, current, fail_startup=spec.fail_startup, lifespan=spec.lifespan
    )
    cls = _reference_class(spec, impl, events, probe)
    cls = impl.asgi_app(probe.app, path=spec.mount_path)(cls)
    if spec.deep_mount:
        deep = build_probe(spec.framework, events, current, label=f"{spec.framework}-deep")
        cls = impl.asgi_app(deep.app, path=spec.mount_path.rstrip("/") + "/deep")(cls)
    if spec.mount_twice:
        cls = impl.asgi_app(probe.app, path="/v2")(cls)
    service = impl.service(**_service_options(spec))(cls)
    if spec.trusted_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        service.add_asgi_middleware(TrustedHostMiddleware, allowed_hosts=list(spec.trusted_hosts))
    for label in spec.middleware:
        service.add_asgi_middleware(TrailMiddleware, label=label, events_path=spec.events_path)
    return service


def _service_options(spec: ServiceSpec) -> dict[str, Any]:
    traffic = {"timeout": spec.timeout, "max_concurrency": spec.max_concurrency}
    options: dict[str, Any] = {"name": SERVICE_NAME}
    if spec.threads is not None:
        options["threads"] = spec.threads
    if any(value is not None for value in traffic.values()):
        options["traffic"] = {key: value for key, value in traffic.items() if value is not None}
    if spec.path_prefix is not None:
        options["path_prefix"] = spec.path_prefix
    return options


def _reference_class(spec: ServiceSpec, impl: ModuleType, events: EventLog, probe: Probe) -> type:
    current = impl.get_current_service
    framework, app = spec.framework, probe.app
    invalid_argument = impl.exceptions.InvalidArgument
    # Names the class-body routes use: methods see the enclosing function, not the class body.
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.websockets import WebSocket

    if framework == "fastapi":
        from fastapi import WebSocket

    meetings: dict[str, threading.Barrier] = {}  # /meet_sync: two calls meet by name
    meetings_lock = threading.Lock()

    class Reference:
        def __init__(self) -> None:
            self.token = uuid.uuid4().hex
            events.record(f"__init__ token={self.token}")

        @impl.on_startup
        async def started(self) -> None:
            events.record(f"on_startup current={current_token(current)}")

        # Defined second but first by name: hooks must run in definition order.
        @impl.on_startup
        def also_started(self) -> None:
            events.record("startup hook also_started")

        @impl.on_shutdown
        def stopped(self) -> None:
            events.record("on_shutdown")

        @impl.api
        async def echo(self, text: str, times: int = 1) -> dict:
            return {"echo": text * times}

        @impl.api
        def echo_sync(self, text: str = "sync") -> dict:
            return {"echo": text}

        @impl.api
        async def hello(self, name: str = "world") -> str:
            return f"Hello {name}"

        @impl.api
        async def whoami(self) -> dict:
            return {"self": self.token, "current": current_token(current)}

        @impl.api
        def whoami_sync(self) -> dict:
            return {"self": self.token, "current": current_token(current)}

        @impl.api
        async def sleep(self, seconds: float) -> dict:
            events.record("api sleep started")
            try:
                await asyncio.sleep(seconds)
            except asyncio.CancelledError:
                events.record("api sleep cancelled")
                raise
            return {"slept": seconds}

        @impl.api
        def sleep_sync(self, seconds: float) -> dict:
            events.record("api sleep_sync started")
            time.sleep(seconds)
            events.record("api sleep_sync returned")
            return {"slept": seconds}

        @impl.api
        async def boom(self) -> dict:
            raise RuntimeError("the reference API raised on purpose")

        @impl.api
        async def invalid(self) -> dict:
            raise invalid_argument("the input is invalid on purpose")

        @impl.api
        def count(self, upto: int = 3) -> Iterator[str]:
            for number in range(upto):
                yield f"{number}\n"

        @impl.api
        def meet_sync(self, meeting: str) -> dict:
            """Wait for a second call of the same meeting: met only if both run at once."""
            with meetings_lock:
                barrier = meetings.setdefault(meeting, threading.Barrier(2, timeout=MEET_SECONDS))
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                return {"met": False}
            return {"met": True}

        @impl.api(route="/custom/route")
        async def routed(self) -> str:
            return "routed"

        if framework in ("fastapi", "quart"):

            @app.get("/whoami-inside")
            def whoami_inside(self) -> dict:
                return {"token": self.token}

            @app.get("/whoami-inside-async")
            async def whoami_inside_async(self) -> dict:
                return {"token": self.token}

        if framework == "fastapi":

            @app.websocket("/ws-inside")
            async def ws_inside(self, websocket: WebSocket) -> None:
                await websocket.accept()
                await websocket.send_json({"token": self.token})
                await websocket.close()

        if framework == "starlette":

            def whoami_inside(self, request: Request) -> JSONResponse:
                return JSONResponse({"token": self.token})

            async def whoami_inside_async(self, request: Request) -> JSONResponse:
                return JSONResponse({"token": self.token})

            async def ws_inside(self, websocket: WebSocket) -> None:
                await websocket.accept()
                await websocket.send_json({"token": self.token})
                await websocket.close()

            app.add_route("/whoami-inside", whoami_inside)
            app.add_route("/whoami-inside-async", whoami_inside_async)
            app.router.add_websocket_route("/ws-inside", ws_inside)

    return Reference
