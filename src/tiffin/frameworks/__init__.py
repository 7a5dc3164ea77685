"""Framework-specific knowledge, kept out of the request path.

Each module binds routes defined inside a service class body (``def hello(self)``)
so that ``self`` is the running service instance. Frameworks are recognised by
the modules their app classes come from, so ``import tiffin`` imports none of them.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, MutableMapping
from typing import Any

from tiffin.context import get_current_service


def framework_name(app: Any) -> str:
    """``"fastapi"``, ``"starlette"``, ``"quart"`` or ``"asgi"`` for any other callable."""
    packages = {cls.__module__.partition(".")[0] for cls in type(app).__mro__}
    for name in ("fastapi", "quart", "starlette"):
        if name in packages:
            return name
    return "asgi"


def bind_class_routes(app: Any, owner: type) -> None:
    """Rewrite routes of ``app`` whose endpoint is a method of ``owner`` to receive ``self``."""
    methods = ClassFunctions(owner)
    framework = framework_name(app)
    if framework == "fastapi":
        from tiffin.frameworks import fastapi

        fastapi.bind_class_routes(app, owner, methods)
    elif framework == "starlette":
        from tiffin.frameworks import starlette

        starlette.bind_class_routes(app, owner, methods)
    elif framework == "quart":
        from tiffin.frameworks import quart

        quart.bind_class_routes(app, owner, methods)


def serves_fully(app: Any, framework: str, scope: MutableMapping[str, Any]) -> bool:
    """Whether ``app`` has a route matching ``scope`` on path and method.

    Used when an ``@api`` route matched on path only: like Starlette's router,
    a later route that matches fully wins over that partial match. Apps that
    cannot be asked (Quart, bare ASGI callables) are taken to serve every path.
    """
    if framework not in ("fastapi", "starlette"):
        return True
    from starlette.routing import Match

    return any(route.matches(dict(scope))[0] is Match.FULL for route in app.router.routes)


def route_template(app: Any, framework: str, scope: MutableMapping[str, Any]) -> str | None:
    """The template of the route a mounted app matched (``/items/{item_id}``), or None.

    Starlette and FastAPI leave the matched route in the scope; Quart is asked.
    """
    if framework == "quart":
        from tiffin.frameworks import quart

        return quart.route_template(app, scope) if scope["type"] == "http" else None
    path_format = getattr(scope.get("route"), "path_format", None)
    return path_format if isinstance(path_format, str) else None


def matched_template(app: Any, framework: str, scope: MutableMapping[str, Any]) -> str | None:
    """What ``route_template`` would report once ``app`` served ``scope``, without running it.

    For a request answered before the app ran, such as a ``429``. Starlette's
    routing is followed as its router does it (the first full match, else the
    first partial one, into nested mounts); bare ASGI apps answer None.
    """
    if framework == "quart":
        return route_template(app, framework, scope)
    if framework not in ("fastapi", "starlette"):
        return None
    from starlette.routing import Host, Mount

    scope = dict(scope)
    outer_root = scope["root_path"]
    routes = app.router.routes
    while True:
        route, child = _first_match(routes, scope)
        if route is None:
            return None
        prefix = scope["root_path"][len(outer_root) :]
        scope.update(child)
        inner = route.routes if isinstance(route, Mount | Host) else None
        if not inner:
            path_format = getattr(route, "path_format", None)
            return prefix + path_format if isinstance(path_format, str) else None
        routes = inner


def _first_match(routes: Any, scope: MutableMapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The route Starlette's router picks for ``scope`` and its child scope; ``None`` for a miss."""
    from starlette.routing import Match

    partial: tuple[Any, dict[str, Any]] = (None, {})
    for route in routes:
        found, child = route.matches(scope)
        if found is Match.FULL:
            return route, child
        if found is Match.PARTIAL and partial[0] is None:
            partial = (route, child)
    return partial


def routes_bare_prefix(framework: str) -> bool:
    """Whether the app answers ``GET /v1`` (its prefix, no slash) itself.

    Quart cannot route the empty path below its root_path; the router sends the
    client to ``/v1/`` instead, as Starlette's router does for a Mount.
    """
    return framework != "quart"


class ClassFunctions:
    """Which functions were defined in the body of ``owner`` (or a base) and take ``self``.

    Decided by the function itself (its module and ``__qualname__``), not by the
    class dict: a later method of the same name replaces the first in the class
    dict, but a route made from the first still holds it (BentoML issue #5163).
    """

    def __init__(self, owner: type) -> None:
        self.owners = {(cls.__module__, cls.__qualname__) for cls in owner.__mro__[:-1]}

    def __contains__(self, func: object) -> bool:
        return (
            inspect.isfunction(func)
            and _defined_in(func) in self.owners
            and _first_parameter(func) == "self"
        )


def _defined_in(func: Callable[..., Any]) -> tuple[str, str]:
    """The module and qualname of the class whose body defined ``func``."""
    return func.__module__, func.__qualname__.rpartition(".")[0]


def _defines(cls: type, func: Callable[..., Any]) -> bool:
    """Whether ``func`` was defined in the body of ``cls`` or of one of its bases."""
    return _defined_in(func) in {(base.__module__, base.__qualname__) for base in cls.__mro__[:-1]}


def _first_parameter(func: Callable[..., Any]) -> str | None:
    params = list(inspect.signature(func).parameters)
    return params[0] if params else None


def bind_to_service(func: Callable[..., Any], owner: type) -> Callable[..., Any]:
    """A callable like ``func`` without its ``self`` parameter, called with the running instance.

    The signature (annotations resolved in ``func``'s module) is what frameworks
    inspect, so FastAPI sees the remaining path, query and body parameters and
    never ``self``.
    """
    if getattr(func, "__tiffin_owner__", None) is not None:
        return func

    def instance() -> Any:
        service = get_current_service()
        if not _defines(type(service), func):
            raise TypeError(
                f"route {func.__qualname__} is defined in service class {owner.__name__!r} but "
                f"is being served by service {type(service).__name__!r}; mount the app on "
                f"{owner.__name__} or define the route outside the class"
            )
        return service

    bound: Any
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def bound_async(*args: Any, **kwargs: Any) -> Any:
            return await func(instance(), *args, **kwargs)

        bound = bound_async
    else:

        @functools.wraps(func)
        def bound_sync(*args: Any, **kwargs: Any) -> Any:
            return func(instance(), *args, **kwargs)

        bound = bound_sync
    signature = _resolved_signature(func)
    bound.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
    bound.__annotations__ = {
        name: param.annotation
        for name, param in bound.__signature__.parameters.items()
        if param.annotation is not inspect.Parameter.empty
    }
    if signature.return_annotation is not inspect.Signature.empty:
        bound.__annotations__["return"] = signature.return_annotation
    bound.__tiffin_owner__ = owner
    del bound.__wrapped__  # frameworks must read the signature above, not func's
    return bound  # type: ignore[no-any-return]


def _resolved_signature(func: Callable[..., Any]) -> inspect.Signature:
    """``func``'s signature with string annotations evaluated where they resolve."""
    signature = inspect.signature(func)
    namespace = getattr(func, "__globals__", {})

    def resolve(annotation: Any) -> Any:
        if isinstance(annotation, str):
            try:
                return eval(annotation, namespace)  # the same lookup typing.get_type_hints does
            except Exception:
                return annotation
        return annotation

    params = [p.replace(annotation=resolve(p.annotation)) for p in signature.parameters.values()]
    return signature.replace(
        parameters=params, return_annotation=resolve(signature.return_annotation)
    )
