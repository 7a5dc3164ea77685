"""INJ: ``self`` in class-body routes, ``get_current_service()`` wherever service code runs."""

from __future__ import annotations

from tiffin.conformance import expect
from tiffin.conformance.registry import check
from tiffin.conformance.targets import CheckContext, Served


async def running_token(served: Served) -> str:
    """The running instance's token, as the service's own API sees ``self``."""
    response = await served.client.post("/whoami")
    expect.status(response, 200)
    return str(expect.json_body(response)["self"])


async def token_at(served: Served, path: str) -> str:
    response = await served.client.get(path)
    expect.status(response, 200)
    return str(expect.json_body(response)["token"])


@check(
    "INJ-001",
    "A sync route defined in the class body gets the running instance as self.",
    needs={"reference", "inside_class"},
)
async def inside_sync_route_gets_self(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        expect.equal(
            await token_at(served, "/v1/whoami-inside"),
            await running_token(served),
            "self.token in GET /v1/whoami-inside",
        )


@check(
    "INJ-002",
    "An async route defined in the class body gets the running instance as self.",
    needs={"reference", "inside_class"},
)
async def inside_async_route_gets_self(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        expect.equal(
            await token_at(served, "/v1/whoami-inside-async"),
            await running_token(served),
            "self.token in GET /v1/whoami-inside-async",
        )


@check(
    "INJ-003",
    "get_current_service() in a mounted async route returns the running instance.",
    needs={"reference"},
)
async def current_service_in_mounted_route(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        expect.equal(
            await token_at(served, "/v1/whoami"),
            await running_token(served),
            "get_current_service().token in GET /v1/whoami",
        )


@check(
    "INJ-004",
    "get_current_service() in a mounted sync route (a thread) returns the instance.",
    needs={"reference", "sync_routes"},
)
async def current_service_in_mounted_sync_route(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        expect.equal(
            await token_at(served, "/v1/whoami-sync"),
            await running_token(served),
            "get_current_service().token in GET /v1/whoami-sync",
        )


@check(
    "INJ-005",
    "get_current_service() inside an async @api is the instance the API runs on.",
    needs={"reference"},
)
async def current_service_in_api(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        body = expect.json_body(await served.client.post("/whoami"))
    expect.equal(body["current"], body["self"], "get_current_service().token in POST /whoami")


@check(
    "INJ-006",
    "get_current_service() inside a sync @api (a thread) is the instance it runs on.",
    needs={"reference"},
)
async def current_service_in_sync_api(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        body = expect.json_body(await served.client.post("/whoami_sync"))
    expect.equal(body["current"], body["self"], "get_current_service().token in POST /whoami_sync")


@check(
    "INJ-007",
    "get_current_service() inside an on_startup hook returns the starting instance.",
    needs={"reference"},
)
async def current_service_in_startup_hook(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        token = await running_token(served)
        assert served.events is not None
        expect.equal(
            served.events.matching("on_startup"),
            [f"on_startup current={token}"],
            "what the on_startup hook recorded",
        )


@check(
    "INJ-008",
    "get_current_service() inside a mounted app's lifespan returns the instance.",
    needs={"reference"},
)
async def current_service_in_mounted_lifespan(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        token = await running_token(served)
        assert served.events is not None and served.spec is not None
        label = served.spec.framework
        expect.equal(
            served.events.matching(f"{label} startup"),
            [f"{label} startup current={token}"],
            "what the mounted lifespan recorded",
        )


@check(
    "INJ-009",
    "Two services running at once each see their own instance, never the other's.",
    needs={"reference"},
)
async def two_services_see_their_own_instance(ctx: CheckContext) -> None:
    # Each its own server: an implementation may not share one between the two.
    fresh = {"extra": {"fresh": True}}
    async with ctx.serve(**fresh) as first, ctx.serve(**fresh) as second:
        tokens = {
            "first": (await running_token(first), await token_at(first, "/v1/whoami")),
            "second": (await running_token(second), await token_at(second, "/v1/whoami")),
        }
    for name, (own, seen) in tokens.items():
        expect.equal(seen, own, f"get_current_service().token in the {name} service's /v1/whoami")
    expect.that(tokens["first"][0] != tokens["second"][0], "two services, two instances")


@check(
    "INJ-010",
    "get_current_service() in a mounted websocket route returns the instance.",
    needs={"reference", "websocket"},
)
async def current_service_in_websocket(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        message = await served.websocket_json("/v1/ws")
        expect.equal(message, {"token": await running_token(served)}, "the message on /v1/ws")


@check(
    "INJ-011",
    "A websocket route defined in the class body gets the running instance as self.",
    needs={"reference", "inside_class_websocket"},
)
async def inside_websocket_gets_self(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        message = await served.websocket_json("/v1/ws-inside")
        expect.equal(
            message, {"token": await running_token(served)}, "the message on /v1/ws-inside"
        )
