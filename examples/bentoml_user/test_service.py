"""Tests of the Translator service, written as a BentoML user writes them.

The tests taking ``client`` run twice (see conftest.py): in-process through
tiffin, and over ``bentoml serve``. The others use what only an in-process run
can do: override a class attribute or a FastAPI dependency for one test, read a
stream chunk by chunk.
"""

import pytest
from service import Translator, get_settings

# --- the same tests, in-process and over `bentoml serve` ------------------------------


async def test_translate(client):
    response = await client.post("/translate", json={"text": "hello good cat"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "bonjour bon chat"


async def test_translate_uses_the_default_argument(client):
    response = await client.post("/translate", json={})
    assert response.text == "bonjour monde"


async def test_invalid_input_is_rejected(client):
    response = await client.post("/translate", json={"text": 5})
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["text"]


async def test_too_many_words(client):
    response = await client.post("/translate", json={"text": "hello " * 21})
    assert response.status_code == 400
    assert "at most 20 words, got 21" in response.text


async def test_a_generator_api_streams(client):
    async with client.stream("POST", "/spell", json={"word": "cat"}) as response:
        assert response.status_code == 200
        text = "".join([chunk async for chunk in response.aiter_text()])
    assert text == "chat"


async def test_a_route_inside_the_class_uses_self(client):
    response = await client.get("/v1/dictionary")
    assert response.status_code == 200
    assert response.json()["cat"] == "chat"


async def test_path_parameters_and_fastapi_errors(client):
    assert (await client.get("/v1/words/cat")).json() == {"word": "cat", "translation": "chat"}
    missing = await client.get("/v1/words/dog")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no translation for 'dog'"}


async def test_a_route_outside_the_class_gets_the_running_service(client):
    response = await client.get("/v1/status")
    assert response.json() == {
        "service": "Translator",
        "warmed_up": True,  # the on_startup hook ran before the first request
        "words": 4,
        "language": "fr",
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/translate"), ("GET", "/v1/status"), ("GET", "/readyz"), ("GET", "/nowhere")],
)
async def test_the_middleware_sees_every_request(client, method, path):
    response = await client.request(method, path, json={} if method == "POST" else None)
    assert float(response.headers["x-process-time"]) >= 0


async def test_health_probes(client):
    for path in ("/livez", "/healthz", "/readyz"):
        assert (await client.get(path)).status_code == 200, path


async def test_requests_are_counted_in_metrics(client):
    await client.post("/translate", json={"text": "cat"})
    metrics = (await client.get("/metrics")).text
    counted = [
        line
        for line in metrics.splitlines()
        if line.startswith("bentoml_service_request_total{") and 'endpoint="/translate"' in line
    ]
    assert counted, metrics
    assert 'service_name="Translator"' in counted[0]


# --- in-process only: per-test overrides and streaming chunk by chunk -----------------


@pytest.mark.tiffin_service(Translator, max_words=2)
async def test_a_class_attribute_override(tiffin_client):
    response = await tiffin_client.post("/translate", json={"text": "hello good cat"})
    assert response.status_code == 400
    assert "at most 2 words, got 3" in response.text


def test_the_override_is_undone():
    assert Translator.inner.max_words == 20


@pytest.mark.tiffin_service(
    Translator, dependency_overrides={get_settings: lambda: {"language": "de"}}
)
async def test_a_dependency_override(tiffin_client):
    assert (await tiffin_client.get("/v1/status")).json()["language"] == "de"


async def test_a_stream_read_chunk_by_chunk(tiffin_client_factory):
    async with tiffin_client_factory(Translator, streaming=True) as client:
        async with client.stream("POST", "/spell", json={"word": "hello"}) as response:
            chunks = [chunk async for chunk in response.aiter_bytes()]
    assert chunks == [b"b", b"o", b"n", b"j", b"o", b"u", b"r"]


@pytest.mark.tiffin_service(Translator, transport="live")
async def test_over_a_socket_in_this_process(tiffin_client):
    assert str(tiffin_client.base_url).startswith("http://127.0.0.1:")
    assert (await tiffin_client.post("/translate", json={"text": "world"})).text == "monde"
