"""DEF: a service defined wrongly fails when it is defined, with an error naming what is wrong.

These checks define small services of their own with the implementation's module,
as a user would, and never serve them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette

from tiffin.conformance import expect
from tiffin.conformance.registry import CheckFailed, check
from tiffin.conformance.targets import CheckContext

SERVICE = "Misdefined"


def definition_error(define: Callable[[], Any], mistake: str) -> str:
    """The message of the error ``define`` raised; a failure if it raised none."""
    try:
        define()
    except Exception as exc:  # any error will do: the checks read its message
        return f"{type(exc).__name__}: {exc}"
    raise CheckFailed(f"{mistake}: the service was defined without an error")


def expect_named(message: str, *names: str) -> None:
    missing = [name for name in names if name not in message]
    expect.that(not missing, f"the error does not name {missing}: {message!r}")


@check(
    "DEF-001",
    "An unknown traffic key is an error when the service is defined, naming the service and key.",
    needs={"reference"},
)
async def unknown_traffic_key(ctx: CheckContext) -> None:
    impl = ctx.api_module()

    def define() -> Any:
        return impl.service(name=SERVICE, traffic={"timeuot": 5})(type(SERVICE, (), {}))

    expect_named(definition_error(define, "traffic={'timeuot': 5}"), SERVICE, "timeuot")


@check(
    "DEF-002",
    "An unknown resources key is an error when the service is defined, naming the service and key.",
    needs={"reference"},
)
async def unknown_resources_key(ctx: CheckContext) -> None:
    impl = ctx.api_module()

    def define() -> Any:
        return impl.service(name=SERVICE, resources={"cpus": 2})(type(SERVICE, (), {}))

    expect_named(definition_error(define, "resources={'cpus': 2}"), SERVICE, "cpus")


@check(
    "DEF-003",
    "A mount path that is not a string is an error naming the service and the path.",
    needs={"reference"},
)
async def mount_path_not_a_string(ctx: CheckContext) -> None:
    impl = ctx.api_module()

    def define() -> Any:
        mounted = impl.asgi_app(Starlette(), path=1)(type(SERVICE, (), {}))
        return impl.service(name=SERVICE)(mounted)

    expect_named(definition_error(define, "asgi_app(app, path=1)"), SERVICE, "path")


@check(
    "DEF-004",
    "add_asgi_middleware with something not callable is an error naming the service.",
    needs={"reference"},
)
async def middleware_not_callable(ctx: CheckContext) -> None:
    impl = ctx.api_module()

    def define() -> Any:
        service = impl.service(name=SERVICE)(type(SERVICE, (), {}))
        service.add_asgi_middleware(42)
        return service

    expect_named(definition_error(define, "add_asgi_middleware(42)"), SERVICE, "42")


@check(
    "DEF-005",
    "An @api route that does not start with / is an error when it is defined.",
    needs={"reference"},
)
async def api_route_without_slash(ctx: CheckContext) -> None:
    impl = ctx.api_module()

    def define() -> Any:
        def handler(self: Any) -> str:
            return "never served"

        return impl.api(route="no-slash")(handler)

    expect_named(definition_error(define, "@api(route='no-slash')"), "route")
