"""MWO: user middleware order, and what it wraps (everything the router serves)."""

from __future__ import annotations

import asyncio

from tiffin.conformance import expect
from tiffin.conformance.checks.waiting import until_recorded
from tiffin.conformance.facts import MISSING_PATH
from tiffin.conformance.reference import TRAIL_HEADER
from tiffin.conformance.registry import check
from tiffin.conformance.targets import CheckContext

TRAIL = "A,B"  # A was added first, so it is the outermost user middleware


@check(
    "MWO-001",
    "The first middleware added is the outermost of the user middlewares.",
    needs={"reference"},
)
async def first_added_is_outermost(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.post("/hello", json={})
        assert served.events is not None
        entered = served.events.matching("middleware")
    expect.header(response, TRAIL_HEADER, TRAIL)
    expect.equal(
        entered,
        ["middleware A http /hello", "middleware B http /hello"],
        "the order the middlewares saw the request in",
    )


@check("MWO-002", "User middleware wraps the mounted apps.", needs={"reference"})
async def wraps_mounted_apps(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.get("/v1/scope")
    expect.status(response, 200)
    expect.header(response, TRAIL_HEADER, TRAIL)


@check(
    "MWO-003",
    "User middleware wraps the infra routes (/livez, /healthz, /readyz, /metrics).",
    needs={"reference"},
)
async def wraps_infra_routes(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        for path in ("/livez", "/healthz", "/readyz", "/metrics"):
            response = await served.client.get(path)
            expect.status(response, 200)
            expect.header(response, TRAIL_HEADER, TRAIL)


@check("MWO-004", "User middleware wraps the OpenAPI document.", needs={"reference"})
async def wraps_docs(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.get("/docs.json")
    expect.status(response, 200)
    expect.header(response, TRAIL_HEADER, TRAIL)


@check("MWO-005", "User middleware wraps the server's own 404 for a miss.", needs={"reference"})
async def wraps_misses(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.get(MISSING_PATH)
    expect.status(response, 404)
    expect.header(response, TRAIL_HEADER, TRAIL)


@check(
    "MWO-006",
    "User middleware sees websocket connections, outermost first.",
    needs={"reference", "websocket"},
)
async def wraps_websockets(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        await served.websocket_json("/v1/ws")
        assert served.events is not None
        entered = served.events.matching("middleware")
    expect.equal(
        entered,
        ["middleware A websocket /v1/ws", "middleware B websocket /v1/ws"],
        "the middlewares that saw the websocket",
    )


@check(
    "MWO-007",
    "The concurrency limit sits outside user middleware: a 429 carries no trail.",
    needs={"reference"},
)
async def limit_is_outside_user_middleware(ctx: CheckContext) -> None:
    async with ctx.serve(max_concurrency=1) as served:
        slow = asyncio.ensure_future(served.client.post("/sleep", json={"seconds": 0.5}))
        await until_recorded(served.events, "api sleep started")
        rejected = await served.client.post("/hello", json={})
        await slow
    expect.status(rejected, 429)
    expect.no_header(rejected, TRAIL_HEADER)


@check(
    "MWO-008",
    "The timeout sits outside user middleware: a 504 carries no trail.",
    needs={"reference"},
)
async def timeout_is_outside_user_middleware(ctx: CheckContext) -> None:
    async with ctx.serve(timeout=0.5) as served:
        response = await served.client.post("/sleep", json={"seconds": 3})
    expect.status(response, 504)
    expect.no_header(response, TRAIL_HEADER)
