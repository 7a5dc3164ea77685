"""``tiffin_sync_client`` and ``with ServiceClient(...)``: the harness for ``def`` tests."""

from __future__ import annotations

import pytest

from tests.testing.sample_services import EVENTS, Calls, Recorder
from tiffin.testing import ServiceClient, TiffinClient

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider
"""


def run(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    pytester.makeini(INI)
    pytester.makepyfile(
        "import pytest\nfrom tests.testing.sample_services import EVENTS, Calls, Recorder\n" + body
    )
    return pytester.runpytest(*args)


def test_a_def_test_gets_a_sync_client_in_process_and_live(pytester: pytest.Pytester) -> None:
    body = """
import httpx

@pytest.mark.tiffin_service(Recorder, greeting="Hi")
@pytest.mark.parametrize("tiffin_transport", ["inprocess", "live"])
def test_sync(tiffin_sync_client, tiffin_transport):
    assert isinstance(tiffin_sync_client, httpx.Client)
    assert tiffin_sync_client.get("/v1/hello").json() == "Hi from Recorder"
    assert tiffin_sync_client.post("/greet", json={"who": "Ann"}).text == "Hi Ann"
    assert tiffin_sync_client.service.greeting == "Hi"
    assert EVENTS[:2] == ["service startup", "app startup"]

def test_after():
    assert EVENTS[-2:] == ["app shutdown", "service shutdown"]
"""
    run(pytester, body).assert_outcomes(passed=3)


def test_a_sync_client_reads_a_stream_and_disconnects(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.tiffin_service(Recorder, streaming=True)
@pytest.mark.parametrize("tiffin_transport", ["inprocess", "live"])
def test_stream(tiffin_sync_client):
    events = []
    with tiffin_sync_client.stream("GET", "/v1/events") as response:
        for line in response.iter_lines():
            if line:
                events.append(line)
            if len(events) == 3:
                break
    assert events == ["data: 1", "data: 2", "data: 3"]
"""
    run(pytester, body).assert_outcomes(passed=2)


def test_a_startup_failure_fails_the_sync_test_shortly(pytester: pytest.Pytester) -> None:
    body = """
from tests.testing.sample_services import BrokenMount

@pytest.mark.tiffin_service(BrokenMount)
def test_broken(tiffin_sync_client):
    pass
"""
    result = run(pytester, body)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*tiffin: service 'BrokenMount' failed to start*"])
    result.stdout.no_fnmatch_line("*plugin.py*")


def test_service_client_as_a_sync_context_manager() -> None:
    EVENTS.clear()
    with ServiceClient(Recorder) as client:
        assert isinstance(client, TiffinClient)
        assert client.get("/v1/hello").json() == "Hello from Recorder"
    assert EVENTS == ["service startup", "app startup", "app shutdown", "service shutdown"]


def test_the_sync_client_calls_apis_by_name() -> None:
    with ServiceClient(Calls) as client:
        assert client.call("add", a=2, b=3) == {"sum": 5}


@pytest.mark.parametrize("transport", ["inprocess", "live"])
def test_a_sync_client_talks_websockets(transport: str) -> None:
    import httpx_ws

    with (
        ServiceClient(Recorder, transport=transport) as client,
        httpx_ws.connect_ws("/v1/echo", client) as ws,
    ):
        assert ws.receive_text() == "welcome from Hello"
        ws.send_text("hi")
        assert ws.receive_text() == "middleware: hi"
        ws.send_text("bye")
