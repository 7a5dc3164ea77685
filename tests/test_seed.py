"""Every code block of the seed document runs under ``import tiffin as bentoml`` as documented.

The blocks live in ``tests/seed_blocks/``; the first test checks that each one is
still, line for line, the code printed in the document.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import types
from pathlib import Path

import pytest

from tests.conftest import running_client

SEED = Path(__file__).parents[2] / "shared/seed/000_77c7c3afe1fdafda.txt"
BLOCKS = Path(__file__).parent / "seed_blocks"
IMPORT_LINE = "import tiffin as bentoml"
BLOCK_NAMES = [
    "fastapi_example",
    "summarization_fastapi",
    "quart_example",
    "summarization_quart",
    "prefix_example",
    "trusted_host_example",
]
EXAMPLE_INPUT_LENGTH = 617  # characters in the document's EXAMPLE_INPUT
_counter = itertools.count()


def normalised_lines(text: str) -> list[str]:
    return [line.expandtabs().rstrip() for line in text.splitlines()]


def load_block(name: str, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Import one block as a fresh module (a unique name, so no two tests share state)."""
    module_name = f"seed_block_{name}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(module_name, BLOCKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, module_name, module)
    spec.loader.exec_module(module)
    return module


# --- the copies cannot drift --------------------------------------------------------------------


def test_the_blocks_directory_holds_exactly_the_documented_blocks() -> None:
    assert sorted(path.stem for path in BLOCKS.glob("*.py")) == sorted(BLOCK_NAMES)


@pytest.mark.parametrize("name", BLOCK_NAMES)
def test_block_is_verbatim_from_the_document(name: str) -> None:
    block = normalised_lines((BLOCKS / f"{name}.py").read_text())
    assert block.count(IMPORT_LINE) == 1
    assert "import bentoml" not in block
    code = [line for line in block if line != IMPORT_LINE]
    document = [line for line in normalised_lines(SEED.read_text()) if line != "import bentoml"]
    assert len(code) > 5
    starts = [i for i in range(len(document)) if document[i : i + len(code)] == code]
    assert len(starts) == 1, f"{name}.py is not a block of {SEED.name}"


# --- FastAPI ------------------------------------------------------------------------------------


async def test_fastapi_example(monkeypatch: pytest.MonkeyPatch) -> None:
    block = load_block("fastapi_example", monkeypatch)
    async with running_client(block.MyService) as client:
        inside = await client.get("/v1/hello")
        outside = await client.get("/v1/hello1")
    assert (inside.status_code, inside.json()) == (200, "Hello MyService")
    assert (outside.status_code, outside.json()) == (200, "Hello MyService")


async def test_summarization_fastapi_routes(
    monkeypatch: pytest.MonkeyPatch, fake_transformers: types.ModuleType
) -> None:
    block = load_block("summarization_fastapi", monkeypatch)
    async with running_client(block.Summarization) as client:
        inside = await client.get("/v1/hello-inside")
        outside = await client.get("/v1/hello-outside")
    assert (inside.status_code, inside.json()) == (
        200,
        "Hello MyService. You can access the Service instance inside the class.",
    )
    assert (outside.status_code, outside.json()) == (
        200,
        "Hello MyService. You can access the Service instance outside the class.",
    )


async def test_summarization_fastapi_summarize(
    monkeypatch: pytest.MonkeyPatch, fake_transformers: types.ModuleType
) -> None:
    block = load_block("summarization_fastapi", monkeypatch)
    assert len(block.EXAMPLE_INPUT) == EXAMPLE_INPUT_LENGTH
    async with running_client(block.Summarization) as client:
        default = await client.post("/summarize", json={})
        given = await client.post("/summarize", json={"text": "short"})
    assert (default.status_code, default.text) == (200, "summary of 617 characters")
    assert default.headers["content-type"] == "text/plain; charset=utf-8"
    assert (given.status_code, given.text) == (200, "summary of 5 characters")


async def test_summarization_fastapi_outside_route_in_docs(
    monkeypatch: pytest.MonkeyPatch, fake_transformers: types.ModuleType
) -> None:
    block = load_block("summarization_fastapi", monkeypatch)
    async with running_client(block.Summarization) as client:
        paths = (await client.get("/docs.json")).json()["paths"]
    assert {"/summarize", "/v1/hello-inside", "/v1/hello-outside"} <= set(paths)
    assert "parameters" not in paths["/v1/hello-inside"]["get"]
    assert "parameters" not in paths["/v1/hello-outside"]["get"]


async def test_prefix_example(monkeypatch: pytest.MonkeyPatch) -> None:
    block = load_block("prefix_example", monkeypatch)
    async with running_client(block.MyService) as client:
        prefixed = await client.get("/fastapi/hello")
        bare = await client.get("/hello")
    assert (prefixed.status_code, prefixed.json()) == (200, "Hello MyService")
    assert bare.status_code == 404


# --- Quart --------------------------------------------------------------------------------------


async def test_quart_example(monkeypatch: pytest.MonkeyPatch) -> None:
    block = load_block("quart_example", monkeypatch)
    async with running_client(block.MyService) as client:
        response = await client.get("/v1/hello")
    assert (response.status_code, response.text) == (200, "Hello, MyService")


async def test_summarization_quart(
    monkeypatch: pytest.MonkeyPatch, fake_transformers: types.ModuleType
) -> None:
    block = load_block("summarization_quart", monkeypatch)
    async with running_client(block.Summarization) as client:
        hello = await client.get("/v1/hello")
        default = await client.post("/summarize")
        given = await client.post("/summarize", json={"text": "tiny"})
    assert (hello.status_code, hello.text) == (200, "Hello, MyService")
    assert (default.status_code, default.text) == (200, "summary of 617 characters")
    assert (given.status_code, given.text) == (200, "summary of 4 characters")


# --- TrustedHostMiddleware ----------------------------------------------------------------------


@pytest.mark.parametrize("host", ["example.com", "api.example.com"])
async def test_trusted_host_lets_allowed_hosts_through(
    host: str, monkeypatch: pytest.MonkeyPatch, fake_transformers: types.ModuleType
) -> None:
    block = load_block("trusted_host_example", monkeypatch)
    async with running_client(block.Summarization, base_url=f"http://{host}") as client:
        api = await client.post("/summarize", json={"text": "abc"})
        livez = await client.get("/livez")
        metrics = await client.get("/metrics")
    assert (api.status_code, api.text) == (200, "summary of 3 characters")
    assert livez.status_code == 200
    assert metrics.status_code == 200


@pytest.mark.parametrize("host", ["evil.com", "localhost"])
async def test_trusted_host_rejects_other_hosts_everywhere(
    host: str, monkeypatch: pytest.MonkeyPatch, fake_transformers: types.ModuleType
) -> None:
    from fastapi import FastAPI

    block = load_block("trusted_host_example", monkeypatch)
    mounted = FastAPI()

    @mounted.get("/hello")
    def hello() -> str:
        return "hello"

    block.Summarization.mount_asgi_app(mounted, path="/v1")
    async with running_client(block.Summarization, base_url=f"http://{host}") as client:
        responses = [
            await client.post("/summarize", json={"text": "abc"}),
            await client.get("/livez"),
            await client.get("/metrics"),
            await client.get("/v1/hello"),
        ]
    assert [(r.status_code, r.text) for r in responses] == [(400, "Invalid host header")] * 4


async def test_trusted_host_mounted_route_passes_for_allowed_host(
    monkeypatch: pytest.MonkeyPatch, fake_transformers: types.ModuleType
) -> None:
    from fastapi import FastAPI

    block = load_block("trusted_host_example", monkeypatch)
    mounted = FastAPI()

    @mounted.get("/hello")
    def hello() -> str:
        return "hello"

    block.Summarization.mount_asgi_app(mounted, path="/v1")
    async with running_client(block.Summarization, base_url="http://example.com") as client:
        response = await client.get("/v1/hello")
    assert (response.status_code, response.json()) == (200, "hello")
