"""Broken variants of tiffin: each a small wrong implementation of one rule of the contract.

A variant builds the reference service as tiffin does, then breaks it in one way:
a changed spec (``spec``), a changed service (``service``), a user middleware added
outermost (``middleware``), a wrapper around the whole composed app, as a server or
an outer layer gone wrong would be (``wrap``), or a changed module the service is
written with (``module``). ``fails`` names the checks that must fail; every other check
of the same areas must still pass (tests/conformance/test_broken_variants.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
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


# --- small tools for wrappers --------------------------------------------------------------------


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


# --- API ------------------------------------------------------------------------------------------


def _errors_as_arrays(app: App, spec: ServiceSpec, service: Any) -> App:
    def change(scope: Any, r: Response) -> Response:
        if r[0] == 400 and r[2].startswith(b"{"):
            return r[0], r[1], b"[" + r[2] + b"]"
        return r

    return rewriting(app, lambda scope: scope["method"] == "POST", change)


def _str_without_charset(app: App, spec: ServiceSpec, service: Any) -> App:
    def change(scope: Any, r: Response) -> Response:
        headers = [
            (k, b"text/plain" if k.lower() == b"content-type" and v.startswith(b"text/") else v)
            for k, v in r[1]
        ]
        return r[0], headers, r[2]

    return rewriting(app, lambda scope: scope["method"] == "POST", change)


def _traceback_in_500(app: App, spec: ServiceSpec, service: Any) -> App:
    leaked = b'{"error":"RuntimeError: the reference API raised on purpose"}'
    return rewriting(
        app, lambda scope: scope["path"] == "/boom", lambda scope, r: (r[0], r[1], leaked)
    )


def _get_on_api_is_404(app: App, spec: ServiceSpec, service: Any) -> App:
    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/hello":
            await respond(send, 404, b"Not Found")
        else:
            await app(scope, receive, send)

    return wrapped


def _first_chunk_only(app: App, spec: ServiceSpec, service: Any) -> App:
    return rewriting(app, post("/count"), lambda scope, r: (r[0], r[1], r[2].split(b"\n")[0]))


def _custom_route_ignored(app: App, spec: ServiceSpec, service: Any) -> App:
    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/custom/route":
            scope = {**scope, "path": "/routed", "raw_path": b"/routed"}
        await app(scope, receive, send)

    return wrapped


def _unknown_keys_rejected(app: App, spec: ServiceSpec, service: Any) -> App:
    known = {"text", "times"}

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/echo":
            await app(scope, receive, send)
            return
        message = await receive()
        try:
            keys = set(json.loads(message.get("body") or b"{}"))
        except (ValueError, TypeError):
            keys = set()
        if keys - known:
            await respond(send, 400, b'{"error":"unknown input keys"}', "application/json")
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return message

        await app(scope, replay, send)

    return wrapped


def _empty_body_is_400(app: App, spec: ServiceSpec, service: Any) -> App:
    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            body.extend(message.get("body", b""))
            if not message.get("more_body"):
                break
        if not body:
            await respond(send, 400, b'{"error":"empty body"}', "application/json")
            return
        await app(scope, replaying(bytes(body), receive), send)

    return wrapped


def _drop_ints(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if not isinstance(v, int) or isinstance(v, bool)}
    return data


API = [
    Broken(
        "integer-inputs-dropped",
        "an integer in the input object is dropped: the parameter takes its default",
        ("API-001",),
        wrap=lambda app, spec, svc: with_body(
            app, lambda s: s["method"] == "POST", json_change(_drop_ints)
        ),
    ),
    Broken(
        "unknown-keys-rejected",
        "an input key that names no parameter is a 400",
        ("API-002",),
        wrap=_unknown_keys_rejected,
    ),
    Broken(
        "empty-body-rejected",
        "an empty body is a 400 instead of the empty object",
        ("API-003",),
        wrap=_empty_body_is_400,
    ),
    Broken(
        "errors-as-arrays",
        'an API\'s 400 answers with a JSON array [{"error": ...}]',
        ("API-004", "API-005", "API-009", "API-013"),
        wrap=_errors_as_arrays,
    ),
    Broken(
        "get-on-api-404",
        "GET on an API route is a 404 without Allow",
        ("API-006",),
        wrap=_get_on_api_is_404,
    ),
    Broken(
        "str-without-charset",
        "a str result is text/plain without its charset",
        ("API-007",),
        wrap=_str_without_charset,
    ),
    Broken(
        "exception-leaks",
        "an exception's type and message reach the client in the 500",
        ("API-008", "TMO-007"),
        wrap=_traceback_in_500,
    ),
    Broken(
        "sync-api-loses-input",
        "a sync API is called without its input",
        ("API-010",),
        wrap=lambda app, spec, svc: with_body(app, post("/echo_sync"), json_change(lambda d: {})),
    ),
    Broken(
        "generator-first-chunk-only",
        "a generator API sends its first chunk only",
        ("API-011",),
        wrap=_first_chunk_only,
    ),
    Broken(
        "route-option-ignored",
        "route= is ignored: the API stays at its method's name (so every check that posts "
        "to /custom/route misses it)",
        ("API-004", "API-012"),
        wrap=_custom_route_ignored,
    ),
    Broken(
        "array-body-as-empty",
        "a JSON array body is taken as the empty object",
        ("API-013",),
        wrap=lambda app, spec, svc: with_body(
            app,
            lambda s: s["method"] == "POST",
            lambda body: b"{}" if body.lstrip().startswith(b"[") else body,
        ),
    ),
]


# --- CON ------------------------------------------------------------------------------------------


def _limiter(app: App, limit: int | None, *, release: bool = True, probes_too: bool = False) -> App:
    """A concurrency limit of its own, answering tiffin's 429 (with Retry-After)."""
    held = 0

    async def limited(scope: Any, receive: Any, send: Any) -> None:
        nonlocal held
        exempt = scope["path"].endswith(PROBES) and not probes_too
        if scope["type"] != "http" or limit is None or exempt:
            await app(scope, receive, send)
            return
        if held >= limit:
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"1")],
                }
            )
            await send({"type": "http.response.body", "body": TOO_MANY})
            return
        held += 1
        try:
            await app(scope, receive, send)
        finally:
            if release:
                held -= 1

    return limited


class LeakyLimit:
    """A user middleware holding a slot per request and never giving it back."""

    def __init__(self, app: App, limit: int | None) -> None:
        self.app = _limiter(app, limit, release=False)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def _probes_throttled(app: App, spec: ServiceSpec, service: Any) -> App:
    in_flight = 0

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        nonlocal in_flight
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        probe = scope["path"].endswith(PROBES)
        if probe and spec.max_concurrency and in_flight >= spec.max_concurrency:
            await _limiter(app, 0, probes_too=True)(scope, receive, send)
            return
        in_flight += not probe
        try:
            await app(scope, receive, send)
        finally:
            in_flight -= not probe

    return wrapped


def _mounts_beside_service(app: App, spec: ServiceSpec, service: Any) -> App:
    """Requests under a mount prefix go straight to the mounted app, around the service."""
    mounted = spec.mounted.rstrip("/")
    inner = service.mounts[0].app

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"].startswith(mounted + "/"):
            await inner({**scope, "root_path": mounted}, receive, send)
        else:
            await app(scope, receive, send)

    return wrapped


def _429_as_text(app: App, spec: ServiceSpec, service: Any) -> App:
    def change(scope: Any, r: Response) -> Response:
        if r[0] != 429:
            return r
        headers = [(k, v) for k, v in r[1] if k.lower() != b"content-type"]
        return 429, [*headers, (b"content-type", b"text/plain")], b"Too Many Requests"

    return rewriting(app, lambda scope: True, change)


CON = [
    Broken(
        "429-as-text",
        "a 429 answers with the plain text Too Many Requests",
        ("CON-001", "CON-006", "CON-007"),
        wrap=_429_as_text,
    ),
    Broken(
        "probes-throttled",
        "the probes are throttled like any request",
        ("CON-003", "CON-004"),
        wrap=_probes_throttled,
    ),
    Broken(
        "slot-never-freed",
        "a request's slot is not given back when it answers",
        ("CON-005", "CON-007"),
        middleware=lambda spec: (LeakyLimit, {"limit": spec.max_concurrency}),
    ),
    Broken(
        "mounts-beside-service",
        "requests under a mount prefix go to the mounted app around the service: they take "
        "no slot, and a second service's mount sees no service",
        ("CON-006", "INJ-009"),
        wrap=_mounts_beside_service,
    ),
    Broken(
        "limit-outside-metrics",
        "the concurrency limit answers 429 outside /metrics: rejections are not counted",
        ("CON-008",),
        wrap=lambda app, spec, svc: _limiter(app, spec.max_concurrency),
    ),
    Broken(
        "threads-ignored",
        "threads= is ignored: sync APIs share the default pool",
        ("CON-010",),
        spec=lambda spec: spec.changed(threads=None),
    ),
]


# --- INF ------------------------------------------------------------------------------------------


def _status_200_to(status: int) -> Callable[[Any, Response], Response]:
    return lambda scope, r: (status if r[0] == 200 else r[0], r[1], r[2])


def _metrics_text(change: Callable[[str], str]) -> Callable[[Any, Response], Response]:
    return lambda scope, r: (r[0], r[1], change(r[2].decode()).encode())


def _without_family(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if "request_duration_seconds" not in line)


def _docs(change: Callable[[dict[str, Any]], None]) -> Callable[[Any, Response], Response]:
    def changed(scope: Any, r: Response) -> Response:
        document = json.loads(r[2])
        change(document)
        return r[0], r[1], json.dumps(document).encode()

    return changed


def _posts_as_gets(document: dict[str, Any]) -> None:
    for operations in document["paths"].values():
        if "post" in operations:
            operations["get"] = operations.pop("post")


def _without_mounts(document: dict[str, Any]) -> None:
    document["paths"] = {p: o for p, o in document["paths"].items() if not p.startswith("/v1")}


def _bare_probe_answers(app: App, spec: ServiceSpec, service: Any) -> App:
    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and spec.path_prefix and scope["path"] == "/livez":
            await respond(send, 200, b"")
        else:
            await app(scope, receive, send)

    return wrapped


def _head_is_405(app: App, spec: ServiceSpec, service: Any) -> App:
    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":
            await respond(send, 405, b"")
        else:
            await app(scope, receive, send)

    return wrapped


INF = [
    Broken(
        "livez-unavailable",
        "/livez answers 503",
        ("INF-001",),
        wrap=lambda app, spec, svc: rewriting(app, get("/livez"), _status_200_to(503)),
    ),
    Broken(
        "healthz-unavailable",
        "/healthz answers 503",
        ("INF-002",),
        wrap=lambda app, spec, svc: rewriting(app, get("/healthz"), _status_200_to(503)),
    ),
    Broken(
        "never-ready",
        "/readyz answers 503 after startup",
        ("INF-003",),
        wrap=lambda app, spec, svc: rewriting(app, get("/readyz"), _status_200_to(503)),
    ),
    Broken("head-not-allowed", "HEAD on a probe is a 405", ("INF-004",), wrap=_head_is_405),
    Broken(
        "metrics-family-missing",
        "/metrics lacks request_duration_seconds",
        ("INF-005",),
        wrap=lambda app, spec, svc: rewriting(app, get("/metrics"), _metrics_text(_without_family)),
    ),
    Broken(
        "api-endpoint-mislabelled",
        "/metrics labels an API by its method, not its route",
        ("INF-006",),
        wrap=lambda app, spec, svc: rewriting(
            app,
            get("/metrics"),
            _metrics_text(lambda text: text.replace('endpoint="/hello"', 'endpoint="POST"')),
        ),
    ),
    Broken(
        "docs-apis-as-get",
        "/docs.json lists the APIs as GET operations",
        ("INF-008",),
        wrap=lambda app, spec, svc: rewriting(app, get("/docs.json"), _docs(_posts_as_gets)),
    ),
    Broken(
        "docs-without-mounts",
        "/docs.json leaves the mounted FastAPI app's routes out",
        ("INF-009",),
        framework="fastapi",
        wrap=lambda app, spec, svc: rewriting(app, get("/docs.json"), _docs(_without_mounts)),
    ),
    Broken(
        "probes-stay-at-root",
        "under a path_prefix, /livez still answers at the root",
        ("INF-011",),
        wrap=_bare_probe_answers,
    ),
]


# --- INJ ------------------------------------------------------------------------------------------


def _module_with(**names: Any) -> Callable[[], types.ModuleType]:
    """tiffin, with some public names replaced: what the reference service is written with."""

    def module() -> types.ModuleType:
        changed = types.ModuleType("tiffin_broken")
        changed.__dict__.update({k: getattr(tiffin, k) for k in tiffin.__all__})
        changed.__dict__.update(names)
        return changed

    return module


def _current_lost_in_threads() -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise tiffin.ServiceNotRunning("no service in this thread") from None
    return tiffin.get_current_service()


class _Stale:
    token = "stale"


def _current_stale_in_apis() -> Any:
    import sys

    frame = sys._getframe(1)
    while frame is not None:  # called from the reference service's whoami APIs
        if frame.f_code.co_name in ("whoami", "whoami_sync") and "reference" in (
            frame.f_code.co_filename
        ):
            return _Stale()
        frame = frame.f_back  # type: ignore[assignment]
    return tiffin.get_current_service()


def _stale_in(*functions: str) -> Callable[[], Any]:
    """get_current_service() answering another instance inside these probe functions."""

    def current() -> Any:
        import sys

        frame = sys._getframe(1)
        while frame is not None:
            code = frame.f_code
            if code.co_name in functions and code.co_filename.endswith("probes.py"):
                return _Stale()
            frame = frame.f_back  # type: ignore[assignment]
        return tiffin.get_current_service()

    return current


def _token_replaced(path: str) -> Callable[..., App]:
    """``self`` in a class-body route is another instance: its token is not the service's."""

    def wrap(app: App, spec: ServiceSpec, service: Any) -> App:
        def http(scope: Any, r: Response) -> Response:
            return r[0], r[1], b'{"token":"stale"}' if r[0] == 200 else r[2]

        rewritten = rewriting(app, lambda s: s["path"] == path, http)

        async def wrapped(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "websocket" or scope["path"] != path:
                await rewritten(scope, receive, send)
                return

            async def stale(message: Any) -> None:
                if message["type"] == "websocket.send":
                    message = {**message, "text": '{"token": "stale"}', "bytes": None}
                await send(message)

            await app(scope, receive, stale)

        return wrapped

    return wrap


INJ = [
    Broken(
        "self-stale-in-sync-class-route",
        "a sync route of the class body gets another instance as self",
        ("INJ-001",),
        wrap=_token_replaced("/v1/whoami-inside"),
    ),
    Broken(
        "self-stale-in-async-class-route",
        "an async route of the class body gets another instance as self",
        ("INJ-002",),
        wrap=_token_replaced("/v1/whoami-inside-async"),
    ),
    Broken(
        "self-stale-in-class-websocket",
        "a websocket route of the class body gets another instance as self",
        ("INJ-011",),
        wrap=_token_replaced("/v1/ws-inside"),
    ),
    Broken(
        "current-stale-in-mounted-async-routes",
        "get_current_service() in a mounted async route returns another instance",
        ("INJ-003", "INJ-009"),
        module=_module_with(get_current_service=_stale_in("whoami")),
    ),
    Broken(
        "current-stale-in-mounted-sync-routes",
        "get_current_service() in a mounted sync route returns another instance",
        ("INJ-004",),
        module=_module_with(get_current_service=_stale_in("whoami_sync")),
    ),
    Broken(
        "current-stale-in-mounted-websockets",
        "get_current_service() in a mounted websocket route returns another instance",
        ("INJ-010",),
        module=_module_with(get_current_service=_stale_in("ws")),
    ),
    Broken(
        "current-lost-in-threads",
        "get_current_service() raises in a thread (the context is not copied)",
        ("INJ-004", "INJ-006"),
        module=_module_with(get_current_service=_current_lost_in_threads),
    ),
    Broken(
        "current-stale-in-apis",
        "get_current_service() inside an @api returns another instance than self",
        ("INJ-005", "INJ-006"),
        module=_module_with(get_current_service=_current_stale_in_apis),
    ),
]


# --- LIF, DEF -------------------------------------------------------------------------------------


def _no_lifespan_fails_startup(service: Any, spec: ServiceSpec) -> None:
    made: dict[int, Any] = {}  # an app mounted twice is still one app

    def failing(app: Any) -> Any:
        if id(app) in made:
            return made[id(app)]

        async def strict(scope: Any, receive: Any, send: Any) -> None:
            try:
                await app(scope, receive, send)
            except Exception as exc:
                if scope["type"] != "lifespan":
                    raise
                await receive()
                await send({"type": "lifespan.startup.failed", "message": str(exc)})

        made[id(app)] = strict
        return strict

    service.mounts[:] = [dataclasses.replace(m, app=failing(m.app)) for m in service.mounts]


def _api_route_fixed_silently(route: str | None = None, **options: Any) -> Any:
    if route is not None and not route.startswith("/"):
        route = "/" + route
    return tiffin.api(route=route, **options)


LIF_DEF = [
    Broken(
        "no-lifespan-fails-startup",
        "a mounted app that does not speak the lifespan protocol fails the startup",
        ("LIF-007",),
        framework="asgi",
        service=_no_lifespan_fails_startup,
    ),
    Broken(
        "route-without-slash-accepted",
        "@api(route='no-slash') is accepted and served at /no-slash",
        ("DEF-005",),
        module=_module_with(api=_api_route_fixed_silently),
    ),
]


# --- MWO, PFX -------------------------------------------------------------------------------------

TRAIL = b"x-middleware-trail"


def _trail_on_429(scope: Any, r: Response) -> Response:
    return (r[0], [*r[1], (TRAIL, b"A,B")], r[2]) if r[0] == 429 else r


def _missing(scope: Any) -> bool:
    return "no-such-route" in scope["path"]


def _path_without_boundary(app: App, spec: ServiceSpec, service: Any) -> App:
    mounted = spec.mounted.rstrip("/")
    inner = service.mounts[0].app

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"]
        if (
            scope["type"] == "http"
            and path.startswith(mounted)
            and path[len(mounted) :][:1]
            not in (
                "/",
                "",
            )
        ):
            await inner({**scope, "root_path": mounted}, receive, send)
        else:
            await app(scope, receive, send)

    return wrapped


def _refuse(applies: Callable[[Any], bool], status: int = 404) -> Callable[..., App]:
    def wrap(app: App, spec: ServiceSpec, service: Any) -> App:
        async def wrapped(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and applies(scope):
                await respond(send, status, b"Not Found")
            else:
                await app(scope, receive, send)

        return wrapped

    return wrap


def _json_404(scope: Any, r: Response) -> Response:
    from_a_mount = any(k.lower() == b"x-probe" for k, _ in r[1])
    if r[0] == 404 and r[2] == b"Not Found" and not from_a_mount:
        return 404, [(b"content-type", b"application/json")], b'{"detail":"Not Found"}'
    return r


def _apis_unprefixed(app: App, spec: ServiceSpec, service: Any) -> App:
    routes = {"/pp" + route for route in service.apis}

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and spec.path_prefix and scope["path"] in routes:
            await respond(send, 404, b"Not Found")
        else:
            await app(scope, receive, send)

    return wrapped


def _mount_path_literal(app: App, spec: ServiceSpec, service: Any) -> App:
    literal = not spec.mount_path.startswith("/")

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and literal and scope["path"].startswith("/v1/"):
            await respond(send, 404, b"Not Found")
        else:
            await app(scope, receive, send)

    return wrapped


def _websockets_refused_under_mounts(app: App, spec: ServiceSpec, service: Any) -> App:
    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and scope["path"].startswith("/v1/"):
            await receive()
            await send({"type": "websocket.close", "code": 1000})
        else:
            await app(scope, receive, send)

    return wrapped


MWO_PFX = [
    Broken(
        "docs-outside-middleware",
        "/docs.json is served outside the user middleware",
        ("MWO-004",),
        wrap=lambda app, spec, svc: rewriting(app, get("/docs.json"), drop_header(TRAIL)),
    ),
    Broken(
        "miss-outside-middleware",
        "the server's own 404 is sent outside the user middleware",
        ("MWO-005",),
        wrap=lambda app, spec, svc: rewriting(app, _missing, drop_header(TRAIL)),
    ),
    Broken(
        "limit-inside-middleware",
        "the concurrency limit sits inside the user middleware: a 429 carries the trail",
        ("MWO-007",),
        wrap=lambda app, spec, svc: rewriting(app, lambda s: True, _trail_on_429),
    ),
    Broken(
        "mounted-headers-dropped",
        "a mounted app's response headers are dropped",
        ("PFX-001", "PFX-004", "PFX-006"),
        wrap=lambda app, spec, svc: rewriting(
            app, lambda s: s["path"].startswith("/v1"), drop_header(b"x-probe")
        ),
    ),
    Broken(
        "prefix-without-boundary",
        "a mount prefix matches inside a segment: /v1 serves /v10",
        ("PFX-003",),
        wrap=_path_without_boundary,
    ),
    Broken(
        "bare-prefix-404",
        "GET on the bare prefix /v1 is a 404",
        ("PFX-004",),
        wrap=_refuse(lambda s: s["path"] == "/v1"),
    ),
    Broken(
        "json-404",
        'a miss gets a JSON 404 {"detail": "Not Found"}',
        ("PFX-003", "PFX-007"),
        wrap=lambda app, spec, svc: rewriting(app, lambda s: True, _json_404),
    ),
    Broken(
        "prefix-for-mounts-only",
        "path_prefix moves the mounts but not the APIs",
        ("PFX-009",),
        wrap=_apis_unprefixed,
    ),
    Broken(
        "mount-path-literal",
        "a mount path 'v1/' is not normalised: /v1/... is a 404",
        ("PFX-010",),
        wrap=_mount_path_literal,
    ),
    Broken(
        "websocket-under-mount-refused",
        "a websocket under a mount prefix is closed before the app sees it",
        ("PFX-011",),
        wrap=_websockets_refused_under_mounts,
    ),
]


# --- THR ------------------------------------------------------------------------------------------


def _host_rewritten(applies: Callable[[Any], bool], kinds: tuple[str, ...] = ("http",)) -> Any:
    def wrap(app: App, spec: ServiceSpec, service: Any) -> App:
        async def wrapped(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] in kinds and applies(scope):
                scope = with_header(scope, "host", "example.com")
            await app(scope, receive, send)

        return wrapped

    return wrap


def _host_refused_on_livez(app: App, spec: ServiceSpec, service: Any) -> App:
    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].endswith("/livez")
            and header(scope, "host") == "example.com"
        ):
            await respond(send, 400, b"Invalid host header")
        else:
            await app(scope, receive, send)

    return wrapped


def _hosts_refused_outside_metrics(app: App, spec: ServiceSpec, service: Any) -> App:
    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and header(scope, "host") == "evil.com":
            await respond(send, 400, b"Invalid host header")
        else:
            await app(scope, receive, send)

    return wrapped


def _evil(scope: Any) -> bool:
    return header(scope, "host") == "evil.com"


THR = [
    Broken(
        "exact-host-refused-on-probes",
        "the allow-list's exact host is refused on /livez",
        ("THR-001",),
        wrap=_host_refused_on_livez,
    ),
    Broken(
        "wildcards-ignored",
        "a *.example.com entry lets no subdomain in",
        ("THR-002",),
        spec=lambda spec: spec.changed(
            trusted_hosts=spec.trusted_hosts
            and tuple(h for h in spec.trusted_hosts if "*" not in h)
        ),
    ),
    Broken(
        "docs-unguarded",
        "/docs.json is served whatever the Host",
        ("THR-006",),
        wrap=_host_rewritten(lambda s: _evil(s) and s["path"] == "/docs.json"),
    ),
    Broken(
        "localhost-always-allowed",
        "Host: localhost passes whatever the allow-list says",
        ("THR-008",),
        wrap=_host_rewritten(lambda s: header(s, "host") == "localhost"),
    ),
    Broken(
        "hosts-refused-outside-metrics",
        "a refused host is answered before /metrics counts it",
        ("THR-009",),
        wrap=_hosts_refused_outside_metrics,
    ),
    Broken(
        "websockets-unguarded",
        "a websocket is accepted whatever the Host",
        ("THR-010",),
        wrap=_host_rewritten(_evil, kinds=("websocket",)),
    ),
]


# --- TMO ------------------------------------------------------------------------------------------


def _ran_to_the_end(path: str) -> Callable[..., App]:
    """A 504 for ``path`` is replaced by the answer the handler gives when it runs on."""

    def wrap(app: App, spec: ServiceSpec, service: Any) -> App:
        def change(scope: Any, r: Response) -> Response:
            if r[0] != 504:
                return r
            seconds = re.search(rb"seconds=([0-9.]+)", scope.get("query_string", b""))
            body = b'{"slept": %s}' % (seconds.group(1) if seconds else b"3")
            return 200, [(b"content-type", b"application/json")], body

        async def slower(scope: Any, receive: Any, send: Any) -> None:
            await rewriting(app, lambda s: s["path"] == path, change)(scope, receive, send)

        return slower

    return wrap


def _boom_waits(app: App, spec: ServiceSpec, service: Any) -> App:
    timed_out = f'{{"error":"Not able to process the request in {spec.timeout} seconds"}}'

    def change(scope: Any, r: Response) -> Response:
        if r[0] != 500:
            return r
        return 504, [(b"content-type", b"application/json")], timed_out.encode()

    return rewriting(app, lambda s: s["path"] == "/v1/boom", change)


def _stops_after_timeout(app: App, spec: ServiceSpec, service: Any) -> App:
    seen = False

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        nonlocal seen
        if scope["type"] == "http" and seen and scope["method"] == "POST":
            await respond(send, 503, b"Service Unavailable")
            return

        async def watching(message: Any) -> None:
            nonlocal seen
            seen |= message["type"] == "http.response.start" and message["status"] == 504
            await send(message)

        await app(scope, receive, watching)

    return wrapped


def _timeout_outside_metrics(app: App, spec: ServiceSpec, service: Any) -> App:
    """A timer of its own, a little before tiffin's: the 504 never reaches /metrics."""
    if spec.timeout is None:
        return app
    seconds = spec.timeout * 0.8
    body = f'{{"error":"Not able to process the request in {spec.timeout} seconds"}}'.encode()

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = asyncio.Event()

        async def watching(message: Any) -> None:
            started.set()
            await send(message)

        task = asyncio.ensure_future(app(scope, receive, watching))
        try:
            await asyncio.wait_for(asyncio.shield(started.wait()), seconds)
        except TimeoutError:
            task.cancel()
            await respond(send, 504, body, "application/json")
            await asyncio.gather(task, return_exceptions=True)
            return
        await task

    return wrapped


TMO = [
    Broken(
        "sync-api-not-timed",
        "a sync API runs to its end past the timeout",
        ("TMO-002",),
        wrap=_ran_to_the_end("/sleep_sync"),
    ),
    Broken(
        "mounted-sync-route-not-timed",
        "a mounted sync route runs to its end past the timeout",
        ("TMO-004",),
        wrap=_ran_to_the_end("/v1/sleep-sync"),
    ),
    Broken(
        "mounted-error-waits-for-timeout",
        "a mounted route that raises gets a 504 instead of its 500",
        ("TMO-008",),
        wrap=_boom_waits,
    ),
    Broken(
        "stops-after-timeout",
        "after a timeout the APIs answer 503",
        ("TMO-009",),
        wrap=_stops_after_timeout,
    ),
    Broken(
        "timeout-outside-metrics",
        "the 504 is sent outside /metrics: timeouts are not counted",
        ("TMO-010",),
        wrap=_timeout_outside_metrics,
    ),
]


# --- the variants written first -------------------------------------------------------------------


def _drop_root_path(service: Any, spec: ServiceSpec) -> None:
    def dropping(app: Any) -> Any:
        async def without_root_path(scope: Any, receive: Any, send: Any) -> None:
            await app({**scope, "root_path": ""}, receive, send)

        return without_root_path

    service.mounts[:] = [dataclasses.replace(m, app=dropping(m.app)) for m in service.mounts]


FIRST = [
    Broken(
        "middleware-in-wrong-order",
        "the user middlewares run in reverse order",
        ("MWO-001", "MWO-002", "MWO-003", "MWO-004", "MWO-005", "MWO-006"),
        spec=lambda spec: spec.changed(middleware=tuple(reversed(spec.middleware))),
    ),
    Broken(
        "mount-drops-root-path",
        "a mounted app gets root_path ''",
        # Starlette routes by root_path: most requests under the prefix miss.
        ("PFX-001", "PFX-002", "PFX-004", "PFX-005", "PFX-008", "PFX-010", "PFX-011"),
        service=_drop_root_path,
    ),
    Broken(
        "timeout-never-fires",
        "the traffic timeout is ignored",
        (
            "MWO-008",
            "TMO-001",
            "TMO-002",
            "TMO-003",
            "TMO-004",
            "TMO-005",
            "TMO-006",
            "TMO-009",
            "TMO-010",
        ),
        spec=lambda spec: spec.changed(timeout=None),
    ),
    Broken(
        "trusted-host-lets-evil-in",
        "evil.com is on the allow-list",
        ("THR-003", "THR-004", "THR-005", "THR-006", "THR-007", "THR-009", "THR-010"),
        spec=lambda spec: spec.changed(
            trusted_hosts=spec.trusted_hosts and (*spec.trusted_hosts, "evil.com")
        ),
    ),
]

VARIANTS: list[Broken] = [*FIRST, *API, *CON, *INF, *INJ, *LIF_DEF, *MWO_PFX, *THR, *TMO]
