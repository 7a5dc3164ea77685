"""CON: past max_concurrency, an immediate 429; probes are never throttled; slots are honest."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tiffin.conformance import expect
from tiffin.conformance.checks.infra import OWN_SERVER, request_total, total_reaching
from tiffin.conformance.checks.waiting import until_recorded
from tiffin.conformance.registry import check
from tiffin.conformance.targets import CheckContext, Served

TOO_MANY = {"error": "Too many requests"}
PROBES = ("/livez", "/healthz", "/readyz", "/metrics")
SLOT_SECONDS = 0.5  # how long the request holding the one slot takes


@asynccontextmanager
async def saturated(
    served: Served, path: str = "/sleep", started: str = "api sleep started"
) -> AsyncIterator[asyncio.Future[httpx.Response]]:
    """The one slot of a max_concurrency=1 service, taken by a request sleeping SLOT_SECONDS."""
    if path.startswith("/v1"):
        slow = asyncio.ensure_future(served.client.get(path, params={"seconds": SLOT_SECONDS}))
    else:
        slow = asyncio.ensure_future(served.client.post(path, json={"seconds": SLOT_SECONDS}))
    try:
        await until_recorded(served.events, started)
        yield slow
    finally:
        await slow


@check(
    "CON-001",
    "Past max_concurrency a request gets an immediate 429 Too many requests.",
    needs={"reference"},
)
async def past_the_limit_is_429(ctx: CheckContext) -> None:
    async with ctx.serve(max_concurrency=1) as served, saturated(served):
        response = await served.client.post("/hello", json={})
    expect.json_equal(response, 429, TOO_MANY)


@check("CON-002", "A 429 carries Retry-After.", needs={"reference"})
async def too_many_has_retry_after(ctx: CheckContext) -> None:
    async with ctx.serve(max_concurrency=1) as served, saturated(served):
        response = await served.client.post("/hello", json={})
    expect.status(response, 429)
    expect.header(response, "retry-after")


@check(
    "CON-003", "/livez, /healthz, /readyz and /metrics are never throttled.", needs={"reference"}
)
async def probes_are_not_throttled(ctx: CheckContext) -> None:
    async with ctx.serve(max_concurrency=1) as served, saturated(served):
        responses = [await served.client.get(path) for path in PROBES]
    for response in responses:
        expect.status(response, 200)


@check(
    "CON-004",
    "Probes under a path_prefix (/pp/healthz) are never throttled either.",
    needs={"reference"},
)
async def prefixed_probes_are_not_throttled(ctx: CheckContext) -> None:
    async with ctx.serve(max_concurrency=1, path_prefix="/pp") as served:
        async with saturated(served, "/pp/sleep"):
            responses = [await served.client.get(f"/pp{path}") for path in PROBES]
    for response in responses:
        expect.status(response, 200)


@check("CON-005", "A slot is free again once its request has answered.", needs={"reference"})
async def slot_is_freed(ctx: CheckContext) -> None:
    async with ctx.serve(max_concurrency=1) as served:
        async with saturated(served) as slow:
            pass
        expect.status(slow.result(), 200)
        response = await served.client.post("/hello", json={})
    expect.text_equal(response, 200, "Hello world")


@check("CON-006", "Requests to mounted apps take slots too.", needs={"reference"})
async def mounted_requests_take_slots(ctx: CheckContext) -> None:
    async with ctx.serve(max_concurrency=1) as served:
        assert served.spec is not None
        started = f"{served.spec.framework} sleep started"
        async with saturated(served, "/v1/sleep", started):
            response = await served.client.post("/hello", json={})
    expect.json_equal(response, 429, TOO_MANY)


@check(
    "CON-007",
    "A sync API that timed out keeps its slot until its thread returns.",
    needs={"reference"},
)
async def timed_out_sync_api_keeps_its_slot(ctx: CheckContext) -> None:
    async with ctx.serve(max_concurrency=1, timeout=0.5) as served:
        timed_out = await served.client.post("/sleep_sync", json={"seconds": 1.5})
        while_running = await served.client.post("/hello", json={})
        await until_recorded(served.events, "api sleep_sync returned")
        await asyncio.sleep(0.2)  # the thread has returned; let its slot be handed back
        after = await served.client.post("/hello", json={})
    expect.status(timed_out, 504)
    expect.json_equal(while_running, 429, TOO_MANY)
    expect.text_equal(after, 200, "Hello world")


@check("CON-008", "A 429 is counted by /metrics.", needs={"reference"})
async def too_many_is_counted(ctx: CheckContext) -> None:
    async with ctx.serve(max_concurrency=1, extra=OWN_SERVER) as served:
        before = request_total(await served.client.get("/metrics"), code=429)
        async with saturated(served):
            rejected = await served.client.post("/hello", json={})
        after = await total_reaching(served, before + 1, code=429)
    expect.status(rejected, 429)
    expect.equal(after - before, 1.0, "the growth of request_total{http_response_code=429}")


@check(
    "CON-009",
    "Sync APIs run side by side in the thread pool (threads left at its default).",
    needs={"reference"},
)
async def sync_apis_run_side_by_side(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        # Two calls of one meeting wait for each other: they meet only if both run at once.
        meeting = {"meeting": uuid.uuid4().hex}
        both = await asyncio.gather(
            served.client.post("/meet_sync", json=meeting),
            served.client.post("/meet_sync", json=meeting),
        )
    for response in both:
        expect.json_equal(response, 200, {"met": True})


@check("CON-010", "With threads=1, sync APIs run one at a time.", needs={"reference"})
async def one_thread_runs_one_at_a_time(ctx: CheckContext) -> None:
    async with ctx.serve(threads=1) as served:
        assert served.events is not None
        both = await asyncio.gather(
            served.client.post("/sleep_sync", json={"seconds": 0.2}),
            served.client.post("/sleep_sync", json={"seconds": 0.2}),
        )
        recorded = [line for line in served.events.read() if line.startswith("api sleep_sync")]
    for response in both:
        expect.status(response, 200)
    one_after_the_other = ["api sleep_sync started", "api sleep_sync returned"] * 2
    expect.equal(recorded, one_after_the_other, "the sync API calls")
