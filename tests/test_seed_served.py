"""Every code block of the seed document, served by `tiffin serve` over a real socket.

The in-process counterpart is tests/test_seed.py; the transformers pipeline is
the stand-in package in tests/fake_packages.
"""

from __future__ import annotations

import httpx
import pytest

from tests.serving import REPO, served

FAKES = REPO / "tests" / "fake_packages"


@pytest.mark.parametrize(
    ("target", "path", "expected"),
    [
        ("fastapi_example.py:MyService", "/v1/hello", "Hello MyService"),
        ("fastapi_example.py:MyService", "/v1/hello1", "Hello MyService"),
        (
            "summarization_fastapi.py:Summarization",
            "/v1/hello-inside",
            "Hello MyService. You can access the Service instance inside the class.",
        ),
        (
            "summarization_fastapi.py:Summarization",
            "/v1/hello-outside",
            "Hello MyService. You can access the Service instance outside the class.",
        ),
        ("prefix_example.py:MyService", "/fastapi/hello", "Hello MyService"),
    ],
)
def test_fastapi_blocks_answer_as_documented(target: str, path: str, expected: str) -> None:
    with served(f"tests/seed_blocks/{target}", extra_path=FAKES) as url:
        answer = httpx.get(url + path)
    assert answer.status_code == 200
    assert answer.json() == expected


@pytest.mark.parametrize("target", ["quart_example.py:MyService", "summarization_quart.py"])
def test_quart_blocks_answer_hello_myservice(target: str) -> None:
    with served(f"tests/seed_blocks/{target}", extra_path=FAKES) as url:
        answer = httpx.get(f"{url}/v1/hello")
    assert (answer.status_code, answer.text) == (200, "Hello, MyService")


@pytest.mark.parametrize(
    "target", ["summarization_fastapi.py:Summarization", "summarization_quart.py:Summarization"]
)
def test_summarize_uses_the_example_input_by_default(target: str) -> None:
    with served(f"tests/seed_blocks/{target}", extra_path=FAKES) as url:
        default = httpx.post(f"{url}/summarize", json={})
        given = httpx.post(f"{url}/summarize", json={"text": "short"})
    assert default.status_code == 200
    assert default.text.startswith("summary of ") and default.text != "summary of 5 characters"
    assert (given.status_code, given.text) == (200, "summary of 5 characters")


def test_trusted_host_block_rejects_other_hosts_over_a_socket() -> None:
    target = "tests/seed_blocks/trusted_host_example.py:Summarization"
    with served(target, extra_path=FAKES, probe_host="example.com") as url:
        allowed = httpx.post(
            f"{url}/summarize", json={"text": "abc"}, headers={"host": "example.com"}
        )
        sub = httpx.get(f"{url}/livez", headers={"host": "api.example.com"})
        rejected = [
            httpx.request(method, url + path, headers={"host": host}, json={"text": "abc"})
            for host in ("evil.com", "localhost")
            for method, path in (("POST", "/summarize"), ("GET", "/livez"), ("GET", "/metrics"))
        ]
    assert (allowed.status_code, allowed.text) == (200, "summary of 3 characters")
    assert sub.status_code == 200
    assert [(r.status_code, r.text) for r in rejected] == [(400, "Invalid host header")] * 6
