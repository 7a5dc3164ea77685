"""INF: health probes, Prometheus metrics and the OpenAPI document every service serves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from tiffin.conformance import expect
from tiffin.conformance.registry import check
from tiffin.conformance.targets import CheckContext, Served

# Counting checks get a server of their own: on a long-running `bentoml serve` shared by
# earlier checks, request_total was seen not to grow during a check (it does on a fresh one).
OWN_SERVER = {"fresh": True}

# A server counts a request as its handler returns, which over a socket can be just after
# the client read the whole response: a check reads /metrics as a scrape a moment later
# would, polling until what it waits for is counted, for at most this long.
METRICS_SECONDS = 5.0

FAMILIES = (
    "bentoml_service_request_total",
    "bentoml_service_request_duration_seconds",
    "bentoml_service_request_in_progress",
)


@check("INF-001", "/livez answers 200.")
async def livez(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        expect.status(await served.client.get(served.facts.path("/livez")), 200)


@check("INF-002", "/healthz answers 200.")
async def healthz(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        expect.status(await served.client.get(served.facts.path("/healthz")), 200)


@check("INF-003", "/readyz answers 200 once the service has started.")
async def readyz(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        expect.status(await served.client.get(served.facts.path("/readyz")), 200)


@check("INF-004", "HEAD /livez answers 200.")
async def head_livez(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        expect.status(await served.client.head(served.facts.path("/livez")), 200)


@check(
    "INF-005",
    "/metrics is Prometheus text with the three request families, after a request.",
    needs={"apis"},
)
async def metrics_families(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        await served.client.post(served.facts.apis[0], json={})
        response = await scraped(
            served,
            lambda text: all(f"{family}{{" in text for family in FAMILIES),
            served.facts.path("/metrics"),
        )
    expect.status(response, 200)
    expect.that(
        response.headers.get("content-type", "").startswith("text/plain"),
        f"Prometheus text, got {response.headers.get('content-type')!r}",
    )
    missing = [family for family in FAMILIES if f"# TYPE {family}" not in response.text]
    expect.that(not missing, f"/metrics lacks {missing}:\n{response.text[:2000]}")


@check(
    "INF-006", "/metrics counts a request under its endpoint and status code.", needs={"reference"}
)
async def metrics_count_requests(ctx: CheckContext) -> None:
    async with ctx.serve(extra=OWN_SERVER) as served:
        before = request_total(await served.client.get("/metrics"), code=200, endpoint="/hello")
        for _ in range(2):
            await served.client.post("/hello", json={})
        after = await total_reaching(served, before + 2, code=200, endpoint="/hello")
    expect.equal(after - before, 2.0, "the growth of request_total{endpoint=/hello, 200}")


def request_total(response: httpx.Response, *, code: int, endpoint: str | None = None) -> float:
    """The sum of request_total samples with this status (and endpoint) in a /metrics answer."""
    expect.status(response, 200)
    return total_in(response.text, code, endpoint)


def total_in(text: str, code: int, endpoint: str | None = None) -> float:
    """The sum of request_total samples with this status (and endpoint) in /metrics text."""
    samples = [
        line
        for line in text.splitlines()
        if line.startswith("bentoml_service_request_total{")
        and f'http_response_code="{code}"' in line
        and (endpoint is None or f'endpoint="{endpoint}"' in line)
    ]
    return sum(float(line.rsplit(" ", 1)[1]) for line in samples)


async def total_reaching(
    served: Served, target: float, *, code: int, endpoint: str | None = None
) -> float:
    """request_total (this status, this endpoint) once it reached ``target``, or when the
    wait ran out; the check compares it with what it expected."""
    settled = await scraped(served, lambda text: total_in(text, code, endpoint) >= target)
    return request_total(settled, code=code, endpoint=endpoint)


async def scraped(
    served: Served, counted: Callable[[str], bool], path: str = "/metrics"
) -> httpx.Response:
    """``GET /metrics`` until ``counted(text)`` holds, for at most METRICS_SECONDS."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + METRICS_SECONDS
    while True:
        response = await served.client.get(path)
        if response.status_code != 200 or counted(response.text) or loop.time() > deadline:
            return response
        await asyncio.sleep(0.02)


@check(
    "INF-007",
    "/metrics labels a mounted route by its template, not the raw path.",
    needs={"reference", "route_templates"},
)
async def metrics_use_route_templates(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        expect.status(await served.client.get("/v1/items/4242"), 200)
        response = await scraped(served, lambda text: 'endpoint="/v1/items/' in text)
    endpoints = {
        line.split('endpoint="', 1)[1].split('"', 1)[0]
        for line in response.text.splitlines()
        if line.startswith("bentoml_service_request_total{") and 'endpoint="' in line
    }
    expect.that(
        not any("4242" in endpoint for endpoint in endpoints),
        f"an endpoint label holds the raw path: {sorted(endpoints)}",
    )
    expect.that(
        any(endpoint.startswith("/v1/items/") for endpoint in endpoints),
        f"no /v1/items/... template among the endpoint labels: {sorted(endpoints)}",
    )


@check("INF-008", "/docs.json is an OpenAPI document listing every API as a POST.", needs={"apis"})
async def openapi_lists_apis(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.get(served.facts.path("/docs.json"))
    document = expect.json_body(response)
    expect.status(response, 200)
    expect.that(str(document.get("openapi", "")).startswith("3."), "an OpenAPI 3 document")
    paths = document.get("paths", {})
    missing = [api for api in served.facts.apis if "post" not in paths.get(api, {})]
    expect.that(not missing, f"/docs.json lacks POST {missing}; it has {sorted(paths)}")


@check(
    "INF-009",
    "/docs.json lists a mounted FastAPI app's routes under its prefix.",
    needs={"reference", "openapi"},
)
async def openapi_lists_mounted_routes(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        document = expect.json_body(await served.client.get("/docs.json"))
    paths = document.get("paths", {})
    for path in ("/v1/scope", "/v1/items/{item_id}", "/v1/whoami-inside"):
        expect.that("get" in paths.get(path, {}), f"/docs.json lacks GET {path}: {sorted(paths)}")


@check("INF-010", "/docs serves the Swagger UI page.")
async def docs_page(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.get(served.facts.path("/docs"))
    expect.status(response, 200)
    expect.that(
        "text/html" in response.headers.get("content-type", ""),
        f"an HTML page, got {response.headers.get('content-type')!r}",
    )
    expect.that("swagger" in response.text.lower(), "a Swagger UI page")


@check(
    "INF-011",
    "Under a path_prefix the probes move with it: /pp/livez 200, /livez 404.",
    needs={"reference"},
)
async def probes_move_with_path_prefix(ctx: CheckContext) -> None:
    async with ctx.serve(path_prefix="/pp") as served:
        prefixed = await served.client.get("/pp/livez")
        bare = await served.client.get("/livez")
    expect.status(prefixed, 200)
    expect.status(bare, 404)
