"""Broken variants about mounts, middleware order and TrustedHost (PFX, MWO, THR), with the
four written first."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from tests.conformance.variants.tools import (
    App,
    Broken,
    Response,
    drop_header,
    get,
    header,
    respond,
    rewriting,
    with_header,
)
from tiffin.conformance.spec import ServiceSpec

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
