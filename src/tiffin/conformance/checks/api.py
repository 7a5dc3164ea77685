"""API: @api input as a JSON object, its errors as JSON objects, its output encodings."""

from __future__ import annotations

from tiffin.conformance import expect
from tiffin.conformance.registry import check
from tiffin.conformance.targets import CheckContext

GENERIC_500 = {"error": "An unexpected error has occurred, please check the server log."}


def error_object(response_json: object, where: str) -> dict[str, object]:
    expect.that(
        isinstance(response_json, dict) and "error" in response_json,
        f"{where}: expected a JSON object with an 'error' key, got {response_json!r}",
    )
    assert isinstance(response_json, dict)
    return response_json


@check("API-001", "A JSON object keyed by parameter names is the input.", needs={"reference"})
async def json_object_input(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.post("/echo", json={"text": "ab", "times": 2})
    expect.json_equal(response, 200, {"echo": "abab"})


@check("API-002", "Defaults apply and extra keys are ignored.", needs={"reference"})
async def defaults_and_extra_keys(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.post("/echo", json={"text": "x", "unknown": 1})
    expect.json_equal(response, 200, {"echo": "x"})


@check("API-003", "An empty body is the empty object: every default applies.", needs={"reference"})
async def empty_body(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.post(
            "/hello", content=b"", headers={"content-type": "application/json"}
        )
    expect.text_equal(response, 200, "Hello world")


@check("API-004", "Invalid JSON gets 400 with a JSON object naming the error.", needs={"apis"})
async def invalid_json(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        for route in served.facts.apis:
            response = await served.client.post(
                route, content=b'{"text": ', headers={"content-type": "application/json"}
            )
            expect.status(response, 400)
            error_object(expect.json_body(response), f"POST {route} with invalid JSON")


@check(
    "API-005",
    "A failed validation gets 400 {error, detail} with pydantic's errors.",
    needs={"reference"},
)
async def failed_validation(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.post("/echo", json={"text": "x", "times": "many"})
    expect.status(response, 400)
    body = error_object(expect.json_body(response), "POST /echo with times='many'")
    detail = body.get("detail")
    expect.that(
        isinstance(detail, list)
        and any("times" in map(str, item.get("loc", ())) for item in detail),
        f"a detail list naming 'times', got {detail!r}",
    )


@check("API-006", "GET on an API gets 405 with an Allow header naming POST.", needs={"apis"})
async def get_on_api(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.get(served.facts.apis[0])
    expect.status(response, 405)
    expect.that("POST" in expect.header(response, "allow"), "Allow names POST")


@check("API-007", "A str result is text/plain; charset=utf-8.", needs={"reference"})
async def str_output(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.post("/hello", json={"name": "ü"})
    expect.text_equal(response, 200, "Hello ü")
    expect.header(response, "content-type", "text/plain; charset=utf-8")


@check(
    "API-008",
    "An exception in user code gets 500 with the generic JSON error.",
    needs={"reference"},
)
async def exception_in_user_code(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.post("/boom", json={})
    expect.json_equal(response, 500, GENERIC_500)


@check(
    "API-009",
    'InvalidArgument raised by user code gets 400 {"error": message}, an object.',
    needs={"reference"},
)
async def invalid_argument(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.post("/invalid", json={})
    expect.json_equal(response, 400, {"error": "the input is invalid on purpose"})


@check("API-010", "A sync API answers like an async one.", needs={"reference"})
async def sync_api(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.post("/echo_sync", json={"text": "in a thread"})
    expect.json_equal(response, 200, {"echo": "in a thread"})


@check("API-011", "A generator API streams its chunks.", needs={"reference"})
async def generator_streams(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        chunks = []
        async with served.client.stream("POST", "/count", json={"upto": 3}) as response:
            expect.status(response, 200)
            async for chunk in response.aiter_text():
                chunks.append(chunk)
    expect.equal("".join(chunks), "0\n1\n2\n", "the streamed body")


@check("API-012", "route= puts an API at its own path.", needs={"reference"})
async def custom_route(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.post("/custom/route", json={})
    expect.text_equal(response, 200, "routed")


@check("API-013", "A JSON body that is not an object gets 400 with a JSON object.", needs={"apis"})
async def non_object_body(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        route = served.facts.apis[0]
        response = await served.client.post(route, json=[1, 2, 3])
    expect.status(response, 400)
    error_object(expect.json_body(response), f"POST {route} with a JSON array")
