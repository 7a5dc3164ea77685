"""The summarization example, with a real pipeline over a tiny model built by the tests.

``summarization_model`` (examples/conftest.py) is a random BART saved to a temporary
directory; ``SUMMARIZATION_MODEL`` points the service at it, and the service loads it
with ``pipeline("summarization", model=...)`` as it would load any model. Its words are
random, so the answers are compared with what the same pipeline says directly
(``summarize``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples.summarization.service import EXAMPLE_INPUT, MODEL_ENV, Summarization
from tests.serving import free_port, serving, tiffin_command

from tiffin.exceptions import StartupError

TARGET = "examples/summarization/service.py:Summarization"
LONG_TEXT = "The cat jumped again, higher than before. " * 200  # far past 64 tokens


@pytest.fixture
def tiffin_service(summarization_model: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(MODEL_ENV, str(summarization_model))
    return Summarization


# --- in-process, through tiffin's fixtures --------------------------------------------------


async def test_the_readme_through_the_harness(tiffin_client: httpx.AsyncClient, readme) -> None:
    await readme.replay(tiffin_client)


async def test_summarize_answers_the_pipeline_summary_text(
    tiffin_client: httpx.AsyncClient, summarize: Callable[[str], str]
) -> None:
    text = "Whiskers the cat leapt twenty feet to catch a fly; scientists are puzzled."
    response = await tiffin_client.post("/summarize", json={"text": text})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == summarize(text)
    assert response.text.strip()


async def test_summarize_defaults_to_the_example_input(
    tiffin_client: httpx.AsyncClient, summarize: Callable[[str], str]
) -> None:
    response = await tiffin_client.post("/summarize", json={})
    assert (response.status_code, response.text) == (200, summarize(EXAMPLE_INPUT))


async def test_a_text_longer_than_the_model_reads_is_truncated(
    tiffin_client: httpx.AsyncClient,
) -> None:
    response = await tiffin_client.post("/summarize", json={"text": LONG_TEXT})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("folder", "reason"),
    [
        ("no-such-model", "no such directory"),
        ("empty", "Could not load model"),
    ],
)
async def test_a_model_that_cannot_load_fails_startup_naming_it_and_the_fix(
    tiffin_client_factory: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    folder: str,
    reason: str,
) -> None:
    model = tmp_path / folder
    if folder == "empty":
        model.mkdir()
    monkeypatch.setenv(MODEL_ENV, str(model))
    with pytest.raises(StartupError, match="service 'Summarization' failed to start") as failure:
        async with tiffin_client_factory(Summarization):
            pass
    message = str(failure.value)
    assert f"cannot load the summarization model {str(model)!r}: " in message
    assert reason in message
    assert f"Point {MODEL_ENV} at another model" in message


# --- over `tiffin serve` --------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(summarization_environment: dict[str, str]) -> Iterator[Any]:
    with serving(TARGET, env=summarization_environment, ready_within=90) as server:
        yield server


async def test_the_readme_over_tiffin_serve(served: Any, readme) -> None:
    async with httpx.AsyncClient(base_url=served.url) as client:
        await readme.replay(client)


def test_tiffin_serve_runs_two_workers_and_summarizes(
    served: Any, summarize: Callable[[str], str]
) -> None:
    answers = [httpx.post(f"{served.url}/summarize", json={}, timeout=30) for _ in range(4)]
    expected = summarize(EXAMPLE_INPUT)
    assert [(a.status_code, a.text) for a in answers] == [(200, expected)] * 4
    assert "with 2 workers" in served.output  # resources={"cpu": "2"}


def test_tiffin_serve_exits_when_the_model_cannot_load(
    summarization_environment: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-model"
    finished = subprocess.run(
        tiffin_command("serve", TARGET, "--port", str(free_port()), "--workers", "1"),
        env={**os.environ, **summarization_environment, MODEL_ENV: str(missing)},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert finished.returncode == 3, finished.stderr
    assert f"cannot load the summarization model {str(missing)!r}: no such directory" in (
        finished.stderr
    )
    assert f"Point {MODEL_ENV} at another model" in finished.stderr
