"""CONTRACT section 8: the OpenAPI document at /docs.json."""

from typing import Any

import schemathesis
from fastapi import FastAPI
from pydantic import BaseModel

import tiffin
from tests.conftest import running_client

PROBES = ("/livez", "/healthz", "/readyz", "/metrics")


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    name = ref.rsplit("/", 1)[-1]
    return document["components"]["schemas"][name]


def refs(value: Any) -> list[str]:
    if isinstance(value, list):
        return [ref for item in value for ref in refs(item)]
    if not isinstance(value, dict):
        return []
    own = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
    return own + [ref for item in value.values() for ref in refs(item)]


def assert_valid(document: dict[str, Any]) -> None:
    """Valid OpenAPI 3.1 (the meta-schema schemathesis checks against) with no dangling $ref."""
    schemathesis.openapi.from_dict(document).validate()
    names = set(document["components"]["schemas"])
    dangling = {ref for ref in refs(document) if ref.rsplit("/", 1)[-1] not in names}
    assert dangling == set()


def body_schema(document: dict[str, Any], path: str, method: str = "post") -> dict[str, Any]:
    body = document["paths"][path][method]["requestBody"]["content"]["application/json"]
    return resolve(document, body["schema"])


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


async def test_docs_json_is_valid_openapi() -> None:
    assert_valid(await fetch(make_service()))


def item_app(item_model: type[BaseModel]) -> FastAPI:
    app = FastAPI()

    @app.post("/items")
    async def create(item: item_model) -> item_model:  # type: ignore[valid-type]
        return item

    return app


def v1_models() -> type[BaseModel]:
    class Tag(BaseModel):
        label: str

    class Item(BaseModel):
        name: str
        tag: Tag

    return Item


def v2_models() -> type[BaseModel]:
    class Tag(BaseModel):
        colour: str

    class Item(BaseModel):
        sku: int
        tags: list[Tag]

    return Item


async def test_different_schemas_of_one_name_are_kept_apart() -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(item_app(v1_models()), path="/v1")
    @tiffin.mount_asgi_app(item_app(v2_models()), path="/v2")
    class Svc:
        pass

    document = await fetch(Svc)

    assert_valid(document)
    v1_item, v2_item = body_schema(document, "/v1/items"), body_schema(document, "/v2/items")
    assert set(v1_item["properties"]) == {"name", "tag"}
    assert set(v2_item["properties"]) == {"sku", "tags"}
    v1_tag = resolve(document, v1_item["properties"]["tag"])
    v2_tag = resolve(document, v2_item["properties"]["tags"]["items"])
    assert (set(v1_tag["properties"]), set(v2_tag["properties"])) == ({"label"}, {"colour"})
    response = document["paths"]["/v2/items"]["post"]["responses"]["200"]["content"]
    assert resolve(document, response["application/json"]["schema"]) == v2_item


async def test_identical_schemas_of_one_name_are_kept_once() -> None:
    item = v1_models()

    @tiffin.service
    @tiffin.mount_asgi_app(item_app(item), path="/v1")
    @tiffin.mount_asgi_app(item_app(item), path="/v2")
    class Svc:
        pass

    document = await fetch(Svc)

    assert_valid(document)
    assert body_schema(document, "/v1/items") == body_schema(document, "/v2/items")
    names = set(document["components"]["schemas"])
    assert {"Item", "Tag", "HTTPValidationError"} <= names
    assert not any(name.startswith(("v1_", "v2_")) for name in names)


async def test_an_api_model_and_a_mounted_model_of_one_name_are_kept_apart() -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(item_app(v2_models()), path="/v2")
    class Svc:
        @tiffin.api
        def make(self, name: str) -> v1_models():  # type: ignore[valid-type]
            raise NotImplementedError

    document = await fetch(Svc)

    assert_valid(document)
    made = document["paths"]["/make"]["post"]["responses"]["200"]["content"]["application/json"]
    assert set(resolve(document, made["schema"])["properties"]) == {"name", "tag"}
    assert set(body_schema(document, "/v2/items")["properties"]) == {"sku", "tags"}
