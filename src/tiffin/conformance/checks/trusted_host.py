"""THR: TrustedHostMiddleware rejects hosts outside its allow-list on every kind of route."""

from __future__ import annotations

from typing import Any

from tiffin.conformance import expect
from tiffin.conformance.checks.infra import scraped, total_in
from tiffin.conformance.facts import MISSING_PATH
from tiffin.conformance.registry import CheckFailed, check
from tiffin.conformance.spec import TRUSTED_HOSTS
from tiffin.conformance.targets import CheckContext, Served

EVIL = {"host": "evil.com"}
REJECTED = "Invalid host header"


def guarded(ctx: CheckContext) -> Any:
    """The service as it is if it has an allow-list; the reference service gets one."""
    if "reference" in ctx.facts.capabilities:
        return ctx.serve(trusted_hosts=TRUSTED_HOSTS)
    return ctx.serve()


async def rejected(served: Served, method: str, path: str, host: str = "evil.com") -> None:
    response = await served.client.request(
        method, path, headers={"host": host}, json={} if method == "POST" else None
    )
    expect.text_equal(response, 400, REJECTED)


@check("THR-001", "A Host on the allow-list passes.", needs={"trusted_host"})
async def allowed_host_passes(ctx: CheckContext) -> None:
    async with guarded(ctx) as served:
        response = await served.client.get(served.facts.path("/livez"))
    expect.status(response, 200)


@check(
    "THR-002",
    "A subdomain matching a *.example.com entry passes.",
    needs={"reference", "trusted_host"},
)
async def wildcard_subdomain_passes(ctx: CheckContext) -> None:
    async with guarded(ctx) as served:
        api = await served.client.post("/hello", json={}, headers={"host": "api.example.com"})
        mounted = await served.client.get("/v1/scope", headers={"host": "api.example.com"})
    expect.text_equal(api, 200, "Hello world")
    expect.status(mounted, 200)


@check(
    "THR-003",
    "Host: evil.com on an API gets 400 Invalid host header.",
    needs={"trusted_host", "apis"},
)
async def evil_host_on_api(ctx: CheckContext) -> None:
    async with guarded(ctx) as served:
        await rejected(served, "POST", served.facts.apis[0])


@check(
    "THR-004",
    "Host: evil.com on a mounted app's route gets 400 Invalid host header.",
    needs={"trusted_host", "mounts"},
)
async def evil_host_on_mount(ctx: CheckContext) -> None:
    async with guarded(ctx) as served:
        await rejected(served, "GET", served.facts.mounts[0].rstrip("/") + "/")


@check(
    "THR-005",
    "Host: evil.com on /livez, /healthz, /readyz and /metrics gets 400.",
    needs={"trusted_host"},
)
async def evil_host_on_infra(ctx: CheckContext) -> None:
    async with guarded(ctx) as served:
        for path in ("/livez", "/healthz", "/readyz", "/metrics"):
            await rejected(served, "GET", served.facts.path(path))


@check("THR-006", "Host: evil.com on the OpenAPI document gets 400.", needs={"trusted_host"})
async def evil_host_on_docs(ctx: CheckContext) -> None:
    async with guarded(ctx) as served:
        await rejected(served, "GET", served.facts.path("/docs.json"))


@check(
    "THR-007", "Host: evil.com on a path no route serves gets 400, not 404.", needs={"trusted_host"}
)
async def evil_host_on_miss(ctx: CheckContext) -> None:
    async with guarded(ctx) as served:
        await rejected(served, "GET", served.facts.path(MISSING_PATH))


@check(
    "THR-008",
    "Host: localhost is rejected when it is not on the allow-list.",
    needs={"trusted_host"},
)
async def localhost_is_rejected(ctx: CheckContext) -> None:
    async with guarded(ctx) as served:
        if "localhost" in (served.facts.trusted_hosts or ()):
            raise CheckFailed("the allow-list names localhost; this rule is about lists that don't")
        await rejected(served, "GET", served.facts.path("/livez"), host="localhost")


@check(
    "THR-009",
    "A rejected host is counted by /metrics with status 400.",
    needs={"reference", "trusted_host"},
)
async def rejection_is_counted(ctx: CheckContext) -> None:
    async with guarded(ctx) as served:
        await rejected(served, "POST", "/hello")
        metrics = await scraped(served, lambda text: total_in(text, 400, None) > 0)
    expect.status(metrics, 200)
    counted = [
        line
        for line in metrics.text.splitlines()
        if line.startswith("bentoml_service_request_total")
        and 'http_response_code="400"' in line
        and not line.rstrip().endswith(" 0.0")
    ]
    expect.that(
        bool(counted),
        "no bentoml_service_request_total sample with "
        f'http_response_code="400" after a rejected host:\n{metrics.text[:2000]}',
    )


@check(
    "THR-010",
    "Host: evil.com on a mounted websocket route is refused before it is accepted.",
    needs={"reference", "trusted_host", "websocket"},
)
async def evil_host_on_websocket(ctx: CheckContext) -> None:
    from httpx_ws import (
        AsyncWebSocketSession,
        WebSocketDisconnect,
        WebSocketUpgradeError,
        aconnect_ws,
    )

    async with guarded(ctx) as served:
        ws: AsyncWebSocketSession
        try:
            async with aconnect_ws("/v1/ws", served.client, headers=EVIL) as ws:
                message = await ws.receive_text()
        except (WebSocketUpgradeError, WebSocketDisconnect):
            return  # refused before the app accepted: the rule holds
    raise CheckFailed(f"the websocket at /v1/ws accepted Host: evil.com and sent {message!r}")
