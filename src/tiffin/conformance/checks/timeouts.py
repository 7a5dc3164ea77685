"""TMO: a request that has not started its response in time gets 504; errors never wait for it."""

from __future__ import annotations

from tiffin.conformance import expect
from tiffin.conformance.checks.infra import OWN_SERVER, request_total, total_reaching
from tiffin.conformance.checks.waiting import until_recorded
from tiffin.conformance.registry import check
from tiffin.conformance.targets import CheckContext, Served

TIMEOUT = 0.5  # seconds; a handler sleeps SLOW, far past it
SLOW = 3
TIMED_OUT = {"error": f"Not able to process the request in {TIMEOUT} seconds"}
GENERIC_500 = {"error": "An unexpected error has occurred, please check the server log."}


async def timed_out(served: Served, method: str, path: str) -> None:
    if method == "POST":
        response = await served.client.post(path, json={"seconds": SLOW})
    else:
        response = await served.client.get(path, params={"seconds": SLOW})
    expect.json_equal(response, 504, TIMED_OUT)


@check(
    "TMO-001",
    "An async API past the timeout gets 504 with the configured number of seconds.",
    needs={"reference"},
)
async def async_api_times_out(ctx: CheckContext) -> None:
    async with ctx.serve(timeout=TIMEOUT) as served:
        await timed_out(served, "POST", "/sleep")


@check("TMO-002", "A sync API past the timeout gets 504.", needs={"reference"})
async def sync_api_times_out(ctx: CheckContext) -> None:
    async with ctx.serve(timeout=TIMEOUT) as served:
        await timed_out(served, "POST", "/sleep_sync")


@check("TMO-003", "A mounted async route past the timeout gets 504.", needs={"reference"})
async def mounted_route_times_out(ctx: CheckContext) -> None:
    async with ctx.serve(timeout=TIMEOUT) as served:
        await timed_out(served, "GET", "/v1/sleep")


@check(
    "TMO-004", "A mounted sync route past the timeout gets 504.", needs={"reference", "sync_routes"}
)
async def mounted_sync_route_times_out(ctx: CheckContext) -> None:
    async with ctx.serve(timeout=TIMEOUT) as served:
        await timed_out(served, "GET", "/v1/sleep-sync")


@check("TMO-005", "An async API that times out is cancelled.", needs={"reference"})
async def timed_out_api_is_cancelled(ctx: CheckContext) -> None:
    async with ctx.serve(timeout=TIMEOUT) as served:
        await timed_out(served, "POST", "/sleep")
        await until_recorded(served.events, "api sleep cancelled")


@check("TMO-006", "A mounted async route that times out is cancelled.", needs={"reference"})
async def timed_out_mounted_route_is_cancelled(ctx: CheckContext) -> None:
    async with ctx.serve(timeout=TIMEOUT) as served:
        await timed_out(served, "GET", "/v1/sleep")
        assert served.spec is not None
        await until_recorded(served.events, f"{served.spec.framework} sleep cancelled")


@check(
    "TMO-007",
    "An API that raises before responding gets an immediate 500 JSON, never a 504.",
    needs={"reference"},
)
async def raising_api_answers_500(ctx: CheckContext) -> None:
    async with ctx.serve(timeout=TIMEOUT) as served:
        response = await served.client.post("/boom", json={})
    expect.json_equal(response, 500, GENERIC_500)


@check(
    "TMO-008",
    "A mounted route that raises before responding gets an immediate 500.",
    needs={"reference"},
)
async def raising_mounted_route_answers_500(ctx: CheckContext) -> None:
    async with ctx.serve(timeout=TIMEOUT) as served:
        response = await served.client.get("/v1/boom")
    expect.status(response, 500)


@check("TMO-009", "After a timeout the service goes on answering.", needs={"reference"})
async def service_survives_a_timeout(ctx: CheckContext) -> None:
    async with ctx.serve(timeout=TIMEOUT) as served:
        await timed_out(served, "POST", "/sleep")
        response = await served.client.post("/hello", json={"name": "again"})
    expect.text_equal(response, 200, "Hello again")


@check("TMO-010", "A 504 from the timeout is counted by /metrics.", needs={"reference"})
async def timeout_is_counted(ctx: CheckContext) -> None:
    async with ctx.serve(timeout=TIMEOUT, extra=OWN_SERVER) as served:
        before = request_total(await served.client.get("/metrics"), code=504)
        await timed_out(served, "POST", "/sleep")
        after = await total_reaching(served, before + 1, code=504)
    expect.equal(after - before, 1.0, "the growth of request_total{http_response_code=504}")
