"""Broken variants about the service instance, the lifespan and definitions (INJ, LIF, DEF)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import tiffin
from tests.conformance.variants.tools import (
    App,
    Broken,
    Response,
    Stale,
    module_with,
    rewriting,
)
from tiffin.conformance.spec import ServiceSpec

# --- INJ ------------------------------------------------------------------------------------------


def _current_lost_in_threads() -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise tiffin.ServiceNotRunning("no service in this thread") from None
    return tiffin.get_current_service()


def _current_stale_in_apis() -> Any:
    import sys

    frame = sys._getframe(1)
    while frame is not None:  # called from the reference service's whoami APIs
        if frame.f_code.co_name in ("whoami", "whoami_sync") and "reference" in (
            frame.f_code.co_filename
        ):
            return Stale()
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
                return Stale()
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
        module=module_with(get_current_service=_stale_in("whoami")),
    ),
    Broken(
        "current-stale-in-mounted-sync-routes",
        "get_current_service() in a mounted sync route returns another instance",
        ("INJ-004",),
        module=module_with(get_current_service=_stale_in("whoami_sync")),
    ),
    Broken(
        "current-stale-in-mounted-websockets",
        "get_current_service() in a mounted websocket route returns another instance",
        ("INJ-010",),
        module=module_with(get_current_service=_stale_in("ws")),
    ),
    Broken(
        "current-lost-in-threads",
        "get_current_service() raises in a thread (the context is not copied)",
        ("INJ-004", "INJ-006"),
        module=module_with(get_current_service=_current_lost_in_threads),
    ),
    Broken(
        "current-stale-in-apis",
        "get_current_service() inside an @api returns another instance than self",
        ("INJ-005", "INJ-006"),
        module=module_with(get_current_service=_current_stale_in_apis),
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
        module=module_with(api=_api_route_fixed_silently),
    ),
]
