"""``tiffin.Context`` in ``@api`` methods, as ``bentoml.Context``: request in, response out."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import tiffin
from tests.conftest import running_client


def context_service() -> tiffin.Service[Any]:
    @tiffin.service
    class WithContext:
        @tiffin.api
        def sync_hello(self, name: str, ctx: tiffin.Context) -> str:
            ctx.response.status_code = 201
            ctx.response.headers["x-served-by"] = "sync"
            ctx.response.set_cookie("session", "abc", httponly=True)
            return f"{name} {ctx.request.headers['x-caller']} {ctx.request.url.path}"

        @tiffin.api
        async def async_hello(self, context, name: str = "a") -> dict[str, Any]:  # type: ignore[no-untyped-def]
            context.state["calls"] = context.state.get("calls", 0) + 1
            context.response.metadata["x-served-by"] = "async"
            return {
                "name": name,
                "calls": context.state["calls"],
                "cookie": context.request.cookies.get("c"),
                "query": context.request.query_params.get("q"),
            }

        @tiffin.api
        async def stream(self, ctx: tiffin.Context) -> AsyncIterator[str]:
            ctx.response.headers["x-stream"] = "yes"
            yield ctx.request.headers["x-caller"]
            yield "!"

        @tiffin.api
        def sync_stream(self, ctx: tiffin.Context) -> Iterator[str]:
            ctx.response.status_code = 202
            yield "a"
            yield "b"

        @tiffin.api
        def temp(self, ctx: tiffin.Context) -> str:
            path = os.path.join(ctx.temp_dir, "f")
            with open(path, "w") as file:
                file.write("x")
            return path

    return WithContext


async def test_sync_api_reads_the_request_and_sets_status_headers_cookies() -> None:
    async with running_client(context_service()) as client:
        response = await client.post(
            "/sync_hello", json={"name": "Ada"}, headers={"x-caller": "me"}
        )
    assert response.status_code == 201
    assert response.text == "Ada me /sync_hello"
    assert response.headers["x-served-by"] == "sync"
    assert "session=abc" in response.headers["set-cookie"]
    assert "HttpOnly" in response.headers["set-cookie"]


async def test_context_by_name_and_state_shared_by_requests() -> None:
    async with running_client(context_service()) as client:
        first = await client.post("/async_hello", json={}, params={"q": "1"})
        client.cookies.set("c", "cookie-value")
        second = await client.post("/async_hello", json={"name": "b"})
    assert first.json() == {"name": "a", "calls": 1, "cookie": None, "query": "1"}
    assert second.json() == {"name": "b", "calls": 2, "cookie": "cookie-value", "query": None}
    assert second.headers["x-served-by"] == "async"


async def test_state_is_per_composed_app() -> None:
    service = context_service()
    async with running_client(service) as one, running_client(service) as two:
        await one.post("/async_hello", json={})
        answer = await two.post("/async_hello", json={})
    assert answer.json()["calls"] == 1


async def test_a_streaming_api_sees_the_context_while_it_streams() -> None:
    async with running_client(context_service()) as client:
        response = await client.post("/stream", headers={"x-caller": "me"})
        sync = await client.post("/sync_stream")
    assert response.text == "me!"
    assert response.headers["x-stream"] == "yes"
    assert (sync.status_code, sync.text) == (202, "ab")


async def test_temp_dir_is_the_requests_own_and_removed_after() -> None:
    async with running_client(context_service()) as client:
        path = (await client.post("/temp")).text
    assert path.endswith("/f")
    assert not os.path.exists(path)


async def test_context_is_no_input_and_not_in_openapi() -> None:
    service = context_service()
    spec = next(s for s in service.apis.values() if s.name == "sync_hello")
    assert list(spec.input_model.model_fields) == ["name"]
    async with running_client(service) as client:
        schema = (await client.get("/docs.json")).json()
        # a body naming `ctx` is ignored like any extra key
        response = await client.post(
            "/sync_hello", json={"name": "x", "ctx": 1}, headers={"x-caller": "c"}
        )
    assert response.status_code == 201
    assert "ctx" not in str(schema["components"]["schemas"])


def test_ctx_request_outside_a_request_says_so() -> None:
    with pytest.raises(RuntimeError, match="only available while an @api method serves"):
        tiffin.Context().request  # noqa: B018


def test_a_parameter_named_ctx_with_another_type_is_an_input() -> None:
    class Plain:
        @tiffin.api
        def f(self, ctx: int) -> int:
            return ctx

    spec = Plain.f.__tiffin_api__  # type: ignore[attr-defined]
    assert spec.context_param is None
    assert list(spec.input_model.model_fields) == ["ctx"]


async def test_background_tasks_run_after_the_response() -> None:
    events: list[str] = []

    @tiffin.service
    class Background:
        @tiffin.api
        async def work(self, ctx: tiffin.Context) -> str:
            ctx.response.background.add_task(events.append, "after")
            events.append("during")
            return "ok"

    async with running_client(Background) as client:
        response = await client.post("/work")
    assert response.text == "ok"
    assert events == ["during", "after"]
