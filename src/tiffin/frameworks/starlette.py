"""Starlette apps: bind ``Route``/``WebSocketRoute`` endpoints defined in a service class."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route, WebSocketRoute, request_response, websocket_session

from tiffin.frameworks import ClassFunctions, bind_to_service


def bind_class_routes(app: Any, owner: type, methods: ClassFunctions) -> None:
    for route in app.router.routes:
        if getattr(route, "endpoint", None) not in methods:
            continue
        bound = bind_to_service(route.endpoint, owner)
        if isinstance(route, Route):
            route.endpoint, route.app = bound, request_response(bound)
        elif isinstance(route, WebSocketRoute):
            route.endpoint, route.app = bound, websocket_session(bound)
