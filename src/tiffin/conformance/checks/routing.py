"""PFX: mounted apps under their prefixes, matched at segment boundaries, longest first."""

from __future__ import annotations

from tiffin.conformance import expect
from tiffin.conformance.facts import MISSING_PATH
from tiffin.conformance.probes import PROBE_HEADER
from tiffin.conformance.registry import check
from tiffin.conformance.targets import CheckContext

REDIRECTS = (301, 302, 307, 308)


@check(
    "PFX-001", "A GET under a mount's prefix is answered by the mounted app.", needs={"reference"}
)
async def mounted_app_answers_under_its_prefix(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.get(f"{served.facts.mounts[0]}/scope")
    expect.status(response, 200)
    expect.header(response, PROBE_HEADER, served.spec.framework if served.spec else None)


@check(
    "PFX-002",
    "A mounted app sees root_path = its prefix and path = the full path.",
    needs={"reference"},
)
async def mounted_app_sees_root_path_and_full_path(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.get("/v1/scope")
    expect.json_equal(response, 200, {"path": "/v1/scope", "root_path": "/v1"})


@check(
    "PFX-003",
    "A mount matches at segment boundaries only: /v1 never serves /v10.",
    needs={"mounts", "misses"},
)
async def mount_matches_whole_segments(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.get(f"{served.facts.mounts[0]}0/scope")
    expect.text_equal(response, 404, "Not Found")
    expect.no_header(response, PROBE_HEADER)


@check(
    "PFX-004",
    "GET on the bare prefix (/v1) ends at the mounted app's root, "
    "directly or through one redirect to /v1/.",
    needs={"reference"},
)
async def bare_prefix_reaches_the_mounted_root(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.get("/v1")
        if response.status_code in REDIRECTS:
            location = expect.header(response, "location")
            expect.that(location.endswith("/v1/"), f"a redirect to /v1/, got {location!r}")
            response = await served.client.get(location)
    expect.json_equal(response, 200, {"root": True})
    expect.header(response, PROBE_HEADER)


@check(
    "PFX-005",
    "The longest mount prefix wins: /v1/deep/... goes to the app at /v1/deep.",
    needs={"reference"},
)
async def longest_prefix_wins(ctx: CheckContext) -> None:
    async with ctx.serve(deep_mount=True) as served:
        deep = await served.client.get("/v1/deep/scope")
        shallow = await served.client.get("/v1/scope")
    expect.json_equal(deep, 200, {"path": "/v1/deep/scope", "root_path": "/v1/deep"})
    expect.json_equal(shallow, 200, {"path": "/v1/scope", "root_path": "/v1"})


@check(
    "PFX-006",
    "A miss under a mount prefix is answered by the mounted app, not the server.",
    needs={"reference"},
)
async def miss_under_prefix_is_the_mounted_apps(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.get("/v1/no-such-route")
    expect.status(response, 404)
    expect.header(response, PROBE_HEADER)


@check(
    "PFX-007",
    "A request outside every route gets 404 with the plain-text body Not Found.",
    needs={"misses"},
)
async def miss_outside_every_route(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.get(served.facts.path(MISSING_PATH))
    expect.text_equal(response, 404, "Not Found")
    expect.that(
        response.headers.get("content-type", "").startswith("text/plain"),
        f"a text/plain 404, got {response.headers.get('content-type')!r}",
    )


@check(
    "PFX-008",
    "path_prefix prefixes the mounts: /pp/v1/... reaches the app, /v1/... does not.",
    needs={"reference"},
)
async def path_prefix_prefixes_mounts(ctx: CheckContext) -> None:
    async with ctx.serve(path_prefix="/pp") as served:
        inside = await served.client.get("/pp/v1/scope")
        outside = await served.client.get("/v1/scope")
    expect.json_equal(inside, 200, {"path": "/pp/v1/scope", "root_path": "/pp/v1"})
    expect.status(outside, 404)
    expect.no_header(outside, PROBE_HEADER)


@check("PFX-009", "path_prefix prefixes the APIs and the infra routes.", needs={"reference"})
async def path_prefix_prefixes_apis_and_infra(ctx: CheckContext) -> None:
    async with ctx.serve(path_prefix="/pp") as served:
        api = await served.client.post("/pp/hello", json={"name": "pp"})
        livez = await served.client.get("/pp/livez")
    expect.text_equal(api, 200, "Hello pp")
    expect.status(livez, 200)


@check(
    "PFX-010",
    "A mount path is normalised: 'v1/' serves /v1/... as '/v1' would.",
    needs={"reference"},
)
async def mount_path_is_normalised(ctx: CheckContext) -> None:
    async with ctx.serve(mount_path="v1/") as served:
        response = await served.client.get("/v1/scope")
    expect.json_equal(response, 200, {"path": "/v1/scope", "root_path": "/v1"})


@check(
    "PFX-011",
    "A websocket under a mount prefix reaches the mounted app.",
    needs={"reference", "websocket"},
)
async def websocket_under_prefix(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        message = await served.websocket_json("/v1/ws")
        api = await served.client.post("/whoami")
    expect.equal(message, {"token": expect.json_body(api)["self"]}, "the message on /v1/ws")
