"""FastAPI apps: rebuild routes whose endpoint is defined in a service class.

FastAPI analyses an endpoint's signature when the route is created, before the
class exists, so ``self`` would be read as a query parameter. Each such route
is rebuilt in place, with the same options, around an endpoint without ``self``;
its position in the route list is kept.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi.routing import APIRoute, APIWebSocketRoute

from tiffin.compat.fastapi import mark_routes_changed
from tiffin.frameworks import bind_to_service


def bind_class_routes(app: Any, owner: type, methods: set[int]) -> None:
    if _bind_router(app.router, owner, methods, seen=set()):
        app.openapi_schema = None


def _bind_router(router: Any, owner: type, methods: set[int], seen: set[int]) -> bool:
    """Rebind matching routes of ``router`` and of the routers included into it."""
    if id(router) in seen:
        return False
    seen.add(id(router))
    changed = False
    for index, route in enumerate(router.routes):
        if isinstance(route, (APIRoute, APIWebSocketRoute)) and id(route.endpoint) in methods:
            router.routes[index] = _rebuild(route, bind_to_service(route.endpoint, owner))
            changed = True
        included = getattr(route, "original_router", None)  # FastAPI >= 0.13x include_router
        if included is not None:
            changed = _bind_router(included, owner, methods, seen) or changed
    if changed:
        mark_routes_changed(router)
    return changed


def _rebuild(route: Any, endpoint: Any) -> Any:
    """A new route of the same class, built from the old one's stored options."""
    route_class = type(route)
    options = {}
    for name, param in inspect.signature(route_class.__init__).parameters.items():
        if param.kind is inspect.Parameter.KEYWORD_ONLY and hasattr(route, name):
            options[name] = getattr(route, name)
    return route_class(route.path, endpoint, **options)
