"""The TrustedHost example answers as its README says: in-process and over `tiffin serve`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples.trusted_host.service import MODEL_ENV, Summarization
from tests.serving import serving

TEXT = "Whiskers the cat leapt twenty feet to catch a fly."


@pytest.fixture
def tiffin_service(summarization_model: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(MODEL_ENV, str(summarization_model))
    return Summarization


@pytest.fixture(scope="module")
def served_url(summarization_environment: dict[str, str]) -> Iterator[str]:
    target = "examples/trusted_host/service.py:Summarization"
    with serving(
        target, env=summarization_environment, probe_host="example.com", ready_within=90
    ) as server:
        yield server.url


async def test_the_readme_through_the_harness(tiffin_client: httpx.AsyncClient, readme) -> None:
    await readme.replay(tiffin_client)


async def test_the_readme_over_tiffin_serve(served_url: str, readme) -> None:
    async with httpx.AsyncClient(base_url=served_url) as client:
        await readme.replay(client)


@pytest.mark.parametrize("host", ["example.com", "api.example.com"])
async def test_an_allowed_host_gets_the_summary(
    tiffin_client: httpx.AsyncClient, summarize: Callable[[str], str], host: str
) -> None:
    response = await tiffin_client.post("/summarize", json={"text": TEXT}, headers={"host": host})
    assert (response.status_code, response.text) == (200, summarize(TEXT))


def test_an_allowed_host_gets_the_summary_over_tiffin_serve(
    served_url: str, summarize: Callable[[str], str]
) -> None:
    response = httpx.post(
        f"{served_url}/summarize", json={"text": TEXT}, headers={"host": "example.com"}, timeout=30
    )
    assert (response.status_code, response.text) == (200, summarize(TEXT))
