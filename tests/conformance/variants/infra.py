"""Broken variants about the probes, /metrics and the OpenAPI document (INF)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.conformance.variants.tools import (
    App,
    Broken,
    Response,
    get,
    respond,
    rewriting,
)
from tiffin.conformance.spec import ServiceSpec

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
