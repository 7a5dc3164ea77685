"""CONTRACT section 8: the OpenAPI document at /docs.json."""

from typing import Any

from fastapi import FastAPI

import tiffin
from tests.conftest import running_client

PROBES = ("/livez", "/healthz", "/readyz", "/metrics")


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    name = ref.rsplit("/", 1)[-1]
    return document["components"]["schemas"][name]


def make_service(**options: Any) -> Any:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int, q: str | None = None) -> dict[str, Any]:
        return {"id": item_id, "q": q}

    @tiffin.service(**options)
    @tiffin.mount_asgi_app(app, path="/v1")
    class Documented:
        """A documented service."""

        @tiffin.api
        def summarize(self, text: str, max_length: int = 100) -> str:
            """Summarize a text."""
            return text[:max_length]

        @app.get("/hello")
        def hello(self, name: str = "world") -> dict[str, str]:
            return {"hello": name}

    return Documented


async def fetch(service: Any, path: str = "/docs.json") -> dict[str, Any]:
    async with running_client(service) as client:
        response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document: dict[str, Any] = response.json()
    return document


async def test_docs_json_lists_apis_with_their_input_schema() -> None:
    document = await fetch(make_service())

    assert document["openapi"].startswith("3.")
    operation = document["paths"]["/summarize"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    schema = resolve(document, body)
    assert set(schema["properties"]) == {"text", "max_length"}
    assert schema["properties"]["max_length"]["type"] == "integer"
    assert schema["properties"]["max_length"]["default"] == 100
    assert schema.get("required") == ["text"]


async def test_docs_json_lists_the_infra_routes() -> None:
    document = await fetch(make_service())

    for probe in PROBES:
        assert "get" in document["paths"][probe], probe


async def test_docs_json_lists_mounted_fastapi_routes_under_their_prefix() -> None:
    document = await fetch(make_service())
    paths = document["paths"]

    assert "get" in paths["/v1/items/{item_id}"]
    parameters = {p["name"] for p in paths["/v1/items/{item_id}"]["get"]["parameters"]}
    assert parameters == {"item_id", "q"}
    assert "/items/{item_id}" not in paths


async def test_docs_json_lists_inside_class_routes_without_self() -> None:
    document = await fetch(make_service())

    operation = document["paths"]["/v1/hello"]["get"]
    parameters = {p["name"] for p in operation.get("parameters", [])}
    assert parameters == {"name"}


async def test_docs_json_under_a_path_prefix() -> None:
    document = await fetch(make_service(path_prefix="/pp"), "/pp/docs.json")
    paths = document["paths"]

    assert "/pp/summarize" in paths
    assert "/pp/v1/items/{item_id}" in paths
    assert "/pp/v1/hello" in paths
    for probe in PROBES:
        assert f"/pp{probe}" in paths
    assert "/summarize" not in paths


async def test_docs_json_leaves_out_apps_without_a_schema() -> None:
    async def bare(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not called")

    @tiffin.service
    @tiffin.mount_asgi_app(bare, path="/bare")
    class Svc:
        @tiffin.api
        def ping(self) -> str:
            return "pong"

    document = await fetch(Svc)

    assert "/ping" in document["paths"]
    assert not any(path.startswith("/bare") for path in document["paths"])
