"""Broken variants about API input and errors (API)."""

from __future__ import annotations

import json
from typing import Any

from tests.conformance.variants.tools import (
    App,
    Broken,
    Response,
    json_change,
    post,
    replaying,
    respond,
    rewriting,
    with_body,
)
from tiffin.conformance.spec import ServiceSpec

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
