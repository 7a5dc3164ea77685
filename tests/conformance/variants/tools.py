"""What the broken variants are made of: the variant, its implementation, and small
ASGI tools to rewrite a request or a response."""

from __future__ import annotations

import json
import types
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import tiffin
from tiffin.conformance.implementations import TiffinImplementation
from tiffin.conformance.spec import ServiceSpec

App = Callable[[Any, Any, Any], Awaitable[None]]
TOO_MANY = b'{"error":"Too many requests"}'
PROBES = ("/livez", "/healthz", "/readyz", "/metrics")


@dataclass(frozen=True)
class Broken:
    name: str
    what: str  # the wrong behaviour, as a user would see it
    fails: tuple[str, ...]
    framework: str = "starlette"  # installed wherever tiffin is
    spec: Callable[[ServiceSpec], ServiceSpec] | None = None
    service: Callable[[Any, ServiceSpec], None] | None = None
    middleware: Callable[[ServiceSpec], tuple[Any, dict[str, Any]]] | None = None
    wrap: Callable[[App, ServiceSpec, Any], App] | None = None
    module: Callable[[], types.ModuleType] | None = None

    def implementation(self) -> BrokenImplementation:
        return BrokenImplementation(self)

    @property
    def areas(self) -> set[str]:
        return {check.partition("-")[0] for check in self.fails}


class BrokenImplementation(TiffinImplementation):
    def __init__(self, variant: Broken) -> None:
        self.variant = variant
        self.name = f"broken-{variant.name}"

    def module(self) -> types.ModuleType:
        return self.variant.module() if self.variant.module else super().module()

    def build(self, spec: ServiceSpec) -> Any:
        variant = self.variant
        if variant.spec is not None:
            spec = variant.spec(spec)
        service = super().build(spec)
        if variant.service is not None:
            variant.service(service, spec)
        if variant.middleware is not None:
            service.middlewares.insert(0, variant.middleware(spec))
        if variant.wrap is not None:
            wrap, to_asgi = variant.wrap, service.to_asgi

            def wrapped_to_asgi(**options: Any) -> Any:
                return Outermost(wrap, to_asgi(**options), spec, service)

            service.to_asgi = wrapped_to_asgi
        return service


class Outermost:
    """The composed app behind a wrapper; its attributes (startup, runtime...) are the app's."""

    def __init__(self, wrap: Any, app: Any, spec: ServiceSpec, service: Any) -> None:
        self._app = app
        self._wrapped = wrap(app, spec, service)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._app(scope, receive, send)
        else:
            await self._wrapped(scope, receive, send)


# --- small tools for wrappers ---------------------------------------------------------------------


def header(scope: Any, name: str) -> str:
    wanted = name.encode()
    return next((v.decode() for k, v in scope.get("headers", []) if k.lower() == wanted), "")


def with_header(scope: Any, name: str, value: str) -> Any:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != name.encode()]
    return {**scope, "headers": [*headers, (name.encode(), value.encode())]}


async def respond(
    send: Any, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


Response = tuple[int, list[tuple[bytes, bytes]], bytes]


def rewriting(
    app: App, applies: Callable[[Any], bool], change: Callable[[Any, Response], Response]
) -> App:
    """``app`` whose whole HTTP response is rewritten by ``change`` where ``applies(scope)``."""

    async def rewritten(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not applies(scope):
            await app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        body = bytearray()

        async def keep(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await app(scope, receive, keep)
        status, headers, data = change(
            scope, (start["status"], list(start["headers"]), bytes(body))
        )
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", b"%d" % len(data)))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    return rewritten


def with_body(app: App, applies: Callable[[Any], bool], change: Callable[[bytes], bytes]) -> App:
    """``app`` whose HTTP request body is rewritten by ``change`` where ``applies(scope)``."""

    async def rewritten(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not applies(scope):
            await app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            body.extend(message.get("body", b""))
            if not message.get("more_body"):
                break
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": change(bytes(body)), "more_body": False}

        await app(scope, replay, send)

    return rewritten


def replaying(body: bytes, receive: Any) -> Any:
    """A receive that gives ``body`` once, then what the client sends next (a disconnect)."""
    given = False

    async def replay() -> Any:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def drop_header(name: bytes) -> Callable[[Any, Response], Response]:
    return lambda scope, r: (r[0], [(k, v) for k, v in r[1] if k.lower() != name], r[2])


def post(path: str) -> Callable[[Any], bool]:
    return lambda scope: scope["method"] == "POST" and scope["path"] == path


def get(path: str) -> Callable[[Any], bool]:
    return lambda scope: scope["method"] == "GET" and scope["path"] == path


def json_change(change: Callable[[Any], Any]) -> Callable[[bytes], bytes]:
    def changed(body: bytes) -> bytes:
        try:
            data = json.loads(body)
        except ValueError:
            return body
        return json.dumps(change(data)).encode()

    return changed


def module_with(**names: Any) -> Callable[[], types.ModuleType]:
    """tiffin, with some public names replaced: what the reference service is written with."""

    def module() -> types.ModuleType:
        changed = types.ModuleType("tiffin_broken")
        changed.__dict__.update({k: getattr(tiffin, k) for k in tiffin.__all__})
        changed.__dict__.update(names)
        return changed

    return module


class Stale:
    token = "stale"
