"""Broken variants about concurrency limits and timeouts (CON, TMO)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from tests.conformance.variants.tools import (
    PROBES,
    TOO_MANY,
    App,
    Broken,
    Response,
    respond,
    rewriting,
)
from tiffin.conformance.spec import ServiceSpec

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
        # Its mounted routes may also lose the current service (the INJ checks), depending on
        # how the client runs the app; only the rule about slots is asserted here.
        "requests under a mount prefix go to the mounted app around the service: they take no slot",
        ("CON-006",),
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
