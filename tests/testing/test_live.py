"""The live transport: base_url, named hangs, the streaming hint, shared servers, trio."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider
"""

HEADER = """
import pytest
from tests.testing.sample_services import Calls, Guarded, Recorder
from tiffin.testing import DeadlineExceeded
"""


def run(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    pytester.makeini(INI)
    pytester.makepyfile(HEADER + body)
    return pytester.runpytest(*args)


def test_base_url_is_the_host_over_both_transports(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.asyncio
@pytest.mark.tiffin_service(Guarded, base_url="http://example.com")
@pytest.mark.parametrize("tiffin_transport", ["inprocess", "live"])
async def test_trusted(tiffin_client):
    response = await tiffin_client.get("/v1/hello")
    assert (response.status_code, response.json()) == (200, "Hello example.com")
    assert str(tiffin_client.base_url) == "http://example.com"

@pytest.mark.tiffin_service(Guarded)
@pytest.mark.parametrize("tiffin_transport", ["inprocess", "live"])
def test_untrusted(tiffin_sync_client):
    assert tiffin_sync_client.get("/v1/hello").status_code == 400  # Invalid host header
"""
    run(pytester, body).assert_outcomes(passed=4)


def test_a_request_hang_is_named_over_both_transports(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.asyncio
@pytest.mark.tiffin_service(Calls)
@pytest.mark.parametrize("tiffin_transport", ["inprocess", "live"])
async def test_async_hang(tiffin_client):
    await tiffin_client.call("wait")

@pytest.mark.tiffin_service(Calls, transport="live")
def test_sync_hang(tiffin_sync_client):
    tiffin_sync_client.post("/wait")
"""
    result = run(pytester, body, "--tiffin-request-timeout=0.3")
    result.assert_outcomes(failed=3)
    hang = (
        "E*DeadlineExceeded: tiffin: the request POST /wait did not finish within 0.3s; "
        "it hung in wait() at *sample_services.py:* Raise the deadline with "
        "--tiffin-request-timeout*"
    )
    result.stdout.fnmatch_lines([hang, hang, hang])
    result.stdout.no_fnmatch_line("*ReadTimeout*")
    result.stdout.no_fnmatch_line("*Exception in ASGI application*")


def test_an_endless_body_read_whole_names_streaming(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.asyncio
@pytest.mark.tiffin_service(Recorder)
@pytest.mark.parametrize("tiffin_transport", ["inprocess", "live"])
async def test_async(tiffin_client):
    await tiffin_client.get("/v1/events")

@pytest.mark.tiffin_service(Recorder)
@pytest.mark.parametrize("tiffin_transport", ["inprocess", "live"])
def test_sync(tiffin_sync_client):
    tiffin_sync_client.get("/v1/events")
"""
    result = run(pytester, body, "--tiffin-request-timeout=0.3")
    result.assert_outcomes(failed=4)
    hint = (
        "E*DeadlineExceeded: tiffin: the request GET /v1/events did not finish within 0.3s: "
        "the response (200, text/event-stream*) had started and was still sending its body*"
        "pass streaming=True*client.stream(*"
    )
    result.stdout.fnmatch_lines([hint] * 4)


def test_a_live_server_shared_by_the_session(pytester: pytest.Pytester) -> None:
    body = """
seen = []

@pytest.mark.tiffin_service(Recorder, transport="live", live_scope="session")
@pytest.mark.parametrize("round", [1, 2])
def test_shared(tiffin_sync_client, round):
    seen.append(id(tiffin_sync_client.service))
    assert tiffin_sync_client.get("/v1/hello").json() == "Hello from Recorder"

@pytest.mark.asyncio
@pytest.mark.tiffin_service(Recorder, transport="live", live_scope="session")
async def test_shared_async(tiffin_client):
    seen.append(id(tiffin_client.service))

@pytest.mark.tiffin_service(Recorder, transport="live")
def test_own(tiffin_sync_client):
    seen.append(id(tiffin_sync_client.service))

def test_one_instance_for_the_shared_tests():
    assert seen[0] == seen[1] == seen[2] != seen[3]
"""
    run(pytester, body).assert_outcomes(passed=5)


def test_the_live_scope_option(pytester: pytest.Pytester) -> None:
    body = """
from tests.testing.sample_services import EVENTS

@pytest.mark.tiffin_service(Recorder)
@pytest.mark.parametrize("round", [1, 2, 3])
def test_shared(tiffin_sync_client, round):
    assert EVENTS.count("service startup") == 1
"""
    pytester.makepyfile(
        conftest="from tests.testing.sample_services import EVENTS\n"
        "def pytest_sessionstart(session):\n    EVENTS.clear()\n"
    )
    run(pytester, body, "--tiffin-transport=live", "--tiffin-live-scope=module").assert_outcomes(
        passed=3
    )


def test_trio_runs_the_live_transport_and_names_it(pytester: pytest.Pytester) -> None:
    body = """
@pytest.fixture
def anyio_backend():
    return "trio"

@pytest.mark.anyio
@pytest.mark.tiffin_service(Calls, transport="live")
async def test_live(tiffin_client):
    assert await tiffin_client.call("add", a=1, b=1) == {"sum": 2}

@pytest.mark.anyio
@pytest.mark.tiffin_service(Calls)
async def test_in_process(tiffin_client):
    pass
"""
    pytester.makeini("[pytest]\nfilterwarnings = error\naddopts = --strict-markers\n")
    pytester.makepyfile(HEADER + body)
    result = pytester.runpytest("-p", "no:asyncio", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_in_process: tiffin_client runs the service in-process on asyncio, and this "
            "test runs on trio; under trio use the live transport*or tiffin_sync_client"
        ]
    )
    result.stdout.no_fnmatch_line("*no running event loop*")


def test_a_live_startup_hang_is_named_at_its_deadline(pytester: pytest.Pytester) -> None:
    body = """
import time
import tiffin
from tests.testing.sample_services import HungMount

@tiffin.service
class SlowInit:
    def __init__(self):
        time.sleep(3)

@pytest.mark.tiffin_service(HungMount, transport="live")
def test_hung_mount(tiffin_sync_client):
    pass

@pytest.mark.tiffin_service(SlowInit, transport="live")
def test_slow_init(tiffin_sync_client):
    pass

def test_the_session_goes_on():
    pass
"""
    result = run(pytester, body, "--tiffin-startup-timeout=0.5")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*tiffin: the startup of service 'HungMount' (live transport) did not finish "
            "within 0.5s; it hung in the lifespan of the fastapi app mounted at '/slow', "
            "suspended in hung_lifespan() at *sample_services.py:*",
            "*tiffin: the startup of service 'SlowInit' (live transport) did not finish "
            "within 0.5s; it hung in SlowInit.__init__, blocked in __init__() at "
            "*test_a_live_startup_hang_is_named_at_its_deadline.py:*",
        ]
    )
    result.stdout.no_fnmatch_line("*did not shut down*")
    result.stdout.no_fnmatch_line("*live.py*")
