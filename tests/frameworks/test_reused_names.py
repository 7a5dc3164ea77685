"""Inside-class routes whose method name a later route reuses keep ``self`` (BentoML #5163).

Only the last function of a name stays in the class dict; binding goes by the
function itself (its ``__qualname__`` and module), not by the class dict.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse

import tiffin
from tests.conftest import running_client


async def test_fastapi_routes_sharing_a_method_name_both_get_self() -> None:
    app = FastAPI()

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Reused:
        label = "svc"

        @app.get("/a")
        def handler(self, q: int = 1) -> dict[str, Any]:  # replaced in the class dict below
            return {"route": "a", "label": self.label, "q": q}

        @app.get("/b")
        def handler(self) -> dict[str, Any]:  # type: ignore[no-redef]  # noqa: F811
            return {"route": "b", "label": self.label}

    async with running_client(Reused) as client:
        first = await client.get("/v1/a", params={"q": 3})
        second = await client.get("/v1/b")
        schema = (await client.get("/docs.json")).json()
    assert first.json() == {"route": "a", "label": "svc", "q": 3}
    assert second.json() == {"route": "b", "label": "svc"}
    parameters = schema["paths"]["/v1/a"]["get"].get("parameters", [])
    assert [p["name"] for p in parameters] == ["q"]  # never `self`


async def test_starlette_routes_sharing_a_method_name_both_get_self() -> None:
    app = Starlette()

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class ReusedStarlette:
        label = "svc"

        async def handler(self, request: Request) -> PlainTextResponse:
            return PlainTextResponse(f"a {self.label}")

        app.add_route("/a", handler)

        async def handler(self, request: Request) -> PlainTextResponse:  # type: ignore[no-redef]
            return PlainTextResponse(f"b {self.label}")

        app.add_route("/b", handler)

    async with running_client(ReusedStarlette) as client:
        assert (await client.get("/v1/a")).text == "a svc"
        assert (await client.get("/v1/b")).text == "b svc"


async def test_a_reused_name_of_another_class_is_not_bound() -> None:
    """A same-named function of another class is never given this class's instance."""
    app = FastAPI()

    class Other:
        def handler(self) -> str:
            return "other"

    app.get("/other")(Other.handler)

    @tiffin.service
    @tiffin.mount_asgi_app(app, path="/v1")
    class Owner:
        @app.get("/mine")
        def handler(self) -> str:
            return type(self).__name__

    async with running_client(Owner) as client:
        mine = await client.get("/v1/mine")
        other = await client.get("/v1/other")
    assert mine.json() == "Owner"
    assert other.status_code == 422  # `self` stays a required query parameter, as FastAPI reads it
