"""The pytest plugin, run the way users run it: a test file under pytester."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

# Imported here so every pytester run below shares one copy of the module (pytester
# drops modules first imported during a run).
import tests.testing.sample_services  # noqa: F401

pytest_plugins = ["pytester"]

STRICT_INI = """
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider
"""

HEADER = """
import httpx_ws
import pytest
import pytest_asyncio

from tests.testing.sample_services import EVENTS, Recorder, BrokenMount
"""


def run(pytester: pytest.Pytester, body: str, *args: str, mode: str = "strict") -> pytest.RunResult:
    pytester.makeini(STRICT_INI.format(mode=mode))
    pytester.makepyfile(HEADER + body)
    return pytester.runpytest(*args)


MARKER_TEST = """
@pytest.mark.asyncio
@pytest.mark.tiffin_service(Recorder, greeting="Hi")
async def test_marker(tiffin_client):
    response = await tiffin_client.get("/v1/hello")
    assert response.text == '"Hi from Recorder"', (response.status_code, response.headers)
    assert Recorder.greeting == "Hello"  # the override is the run's, the class is untouched


def test_restored():
    assert Recorder.greeting == "Hello"
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_marker_and_overrides_under_pytest_asyncio(pytester: pytest.Pytester, mode: str) -> None:
    run(pytester, MARKER_TEST, mode=mode).assert_outcomes(passed=2)


def test_overriding_the_tiffin_service_fixture(pytester: pytest.Pytester) -> None:
    body = """
@pytest.fixture
def tiffin_service():
    return Recorder

@pytest.mark.asyncio(loop_scope="module")
async def test_module_loop(tiffin_client):
    assert (await tiffin_client.post("/greet", json={"who": "Bo"})).text == "Hello Bo"
"""
    run(pytester, body).assert_outcomes(passed=1)


def test_a_marker_names_the_service_over_an_overridden_fixture(pytester: pytest.Pytester) -> None:
    # A conftest's tiffin_service serves most tests; a test marked with another service
    # gets that one (its startup failure included), in async and def tests alike.
    body = """
@pytest.fixture
def tiffin_service():
    return Recorder

@pytest.mark.asyncio
async def test_fixture_service(tiffin_client):
    assert (await tiffin_client.post("/greet", json={"who": "Bo"})).text == "Hello Bo"

@pytest.mark.asyncio
@pytest.mark.tiffin_service(BrokenMount)
async def test_marked_async(tiffin_client):
    pass

@pytest.mark.tiffin_service(BrokenMount)
def test_marked_sync(tiffin_sync_client):
    pass
"""
    # -rN: no short summary, whose lines are cut to the terminal's width (CI's is wider)
    result = run(pytester, body, "-rN")
    result.assert_outcomes(passed=1, errors=2)
    assert result.stdout.str().count("service 'BrokenMount' failed to start") == 2


def test_anyio(pytester: pytest.Pytester) -> None:
    body = """
@pytest.fixture
def anyio_backend():
    return "asyncio"

@pytest.mark.anyio
@pytest.mark.tiffin_service(Recorder)
async def test_fixture(tiffin_client):
    assert (await tiffin_client.get("/v1/hello")).json() == "Hello from Recorder"

@pytest.mark.anyio
async def test_factory(tiffin_client_factory):
    async with tiffin_client_factory(Recorder, greeting="Yo") as client:
        async with httpx_ws.aconnect_ws("/v1/echo", client) as ws:
            assert await ws.receive_text() == "welcome from Yo"
"""
    pytester.makeini("[pytest]\nfilterwarnings = error\naddopts = --strict-markers\n")
    pytester.makepyfile(HEADER.replace("import pytest_asyncio\n", "") + body)
    pytester.runpytest("-p", "no:asyncio").assert_outcomes(passed=2)


def test_a_failing_test_body_still_runs_shutdown(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.asyncio
@pytest.mark.tiffin_service(Recorder)
async def test_fails(tiffin_client):
    EVENTS.clear()
    await tiffin_client.get("/v1/hello")
    assert False, "the body failed"

def test_events_after():
    assert EVENTS == ["app shutdown", "service shutdown"]

@pytest.mark.asyncio
async def test_factory_fails(tiffin_client_factory):
    EVENTS.clear()
    async with tiffin_client_factory(Recorder):
        raise RuntimeError("boom")

def test_events_after_factory():
    assert EVENTS == ["service startup", "app startup", "app shutdown", "service shutdown"]
"""
    result = run(pytester, body)
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*the body failed*", "*RuntimeError: boom*"])


def test_a_startup_failure_is_reported_at_once_with_the_mount(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.asyncio
@pytest.mark.tiffin_service(BrokenMount)
async def test_broken(tiffin_client):
    pass
"""
    started = time.monotonic()
    result = run(pytester, body)
    assert time.monotonic() - started < 3  # the whole run, not one 5-second timeout
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*tiffin: service 'BrokenMount' failed to start: the lifespan of the fastapi "
            "app mounted at '/models' raised FileNotFoundError: "
            "model weights not found at /models/missing.bin",
        ]
    )


def test_a_fixture_on_the_wrong_loop_fails_at_once(pytester: pytest.Pytester) -> None:
    body = """
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(tiffin_client_factory):
    async with tiffin_client_factory(Recorder) as client:
        yield client

@pytest.mark.asyncio
async def test_on_function_loop(client):
    await client.get("/v1/hello")
"""
    started = time.monotonic()
    result = run(pytester, body)
    assert time.monotonic() - started < 3
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*tiffin: fixture 'client' runs on the 'module'-scoped event loop, "
            "but test *test_on_function_loop* runs on the 'function'-scoped loop*"
            "Fix: @pytest.mark.asyncio(loop_scope='module') on the test.",
        ]
    )


def test_a_client_used_from_another_loop_fails_at_once(pytester: pytest.Pytester) -> None:
    body = """
holder = {}

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def started():
    from tiffin.testing import ServiceClient
    async with ServiceClient(Recorder, owner="fixture 'started'") as client:
        holder["client"] = client
        yield

@pytest.mark.asyncio
async def test_on_function_loop(started):
    await holder["client"].get("/v1/hello")
"""
    result = run(pytester, body)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*WrongEventLoop: tiffin: fixture 'started' started*"])


TRANSPORT_TEST = """
@pytest.mark.asyncio
@pytest.mark.tiffin_service(Recorder)
async def test_either(tiffin_client, tiffin_transport):
    response = await tiffin_client.get("/v1/hello")
    assert response.json() == "Hello from Recorder"
    live = str(tiffin_client.base_url).startswith("http://127.0.0.1:")
    assert live == (tiffin_transport == "live")
"""


def test_the_transport_option_runs_the_same_test_live(pytester: pytest.Pytester) -> None:
    run(pytester, TRANSPORT_TEST, "--tiffin-transport=live").assert_outcomes(passed=1)
    # The same test, unchanged, in-process: its own assertion checks which transport ran.
    pytester.runpytest().assert_outcomes(passed=1)


def test_the_transport_ini_key(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI.format(mode="strict") + "tiffin_transport = live\n")
    pytester.makepyfile(HEADER + TRANSPORT_TEST)
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.runpytest("--tiffin-transport=inprocess").assert_outcomes(passed=1)


def test_the_transport_as_a_parameter(pytester: pytest.Pytester) -> None:
    body = TRANSPORT_TEST.replace(
        "@pytest.mark.asyncio\n",
        '@pytest.mark.asyncio\n@pytest.mark.parametrize("tiffin_transport", ["inprocess", "live"])'
        "\n",
    )
    run(pytester, body).assert_outcomes(passed=2)


def test_the_live_server_fixture(pytester: pytest.Pytester) -> None:
    body = """
import httpx

@pytest.mark.tiffin_service(Recorder, greeting="Live")
def test_sync_live(tiffin_live_server):
    assert tiffin_live_server.startswith("http://127.0.0.1:")
    assert httpx.get(tiffin_live_server + "/v1/hello").json() == "Live from Recorder"
"""
    run(pytester, body).assert_outcomes(passed=1)


def test_timeout_ini_keys_and_options(pytester: pytest.Pytester) -> None:
    body = """
from tests.testing.sample_services import SlowAPI
from tiffin.testing import DeadlineExceeded

@pytest.mark.asyncio
@pytest.mark.tiffin_service(SlowAPI)
async def test_slow(tiffin_client):
    with pytest.raises(DeadlineExceeded, match="within 0.1s"):
        await tiffin_client.post("/wait")
"""
    pytester.makeini(STRICT_INI.format(mode="strict") + "tiffin_request_timeout = 0.1\n")
    pytester.makepyfile(HEADER + body)
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.runpytest("--tiffin-request-timeout=0.2").assert_outcomes(failed=1)


def test_report_header_and_help(pytester: pytest.Pytester) -> None:
    result = run(pytester, "def test_nothing():\n    pass\n", mode="auto")
    result.stdout.fnmatch_lines(
        [
            "tiffin: 0.1.0, async plugins: pytest-asyncio * (mode=auto), anyio *, "
            "transport: inprocess"
        ]
    )
    help_text = pytester.runpytest("--help")
    help_text.stdout.fnmatch_lines(
        ["tiffin service harness:", "*--tiffin-transport*", "*tiffin_startup_timeout*"]
    )
    markers = pytester.runpytest("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.tiffin_service(service, **overrides)*"])


def test_a_sync_test_asking_for_the_async_client_is_told_why(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.tiffin_service(Recorder)
def test_sync(tiffin_client):
    pass
"""
    result = run(pytester, body)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*tiffin_client is an httpx.AsyncClient, for async tests*use tiffin_sync_client*"]
    )


def test_a_missing_service_is_explained(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.asyncio
async def test_no_service(tiffin_client):
    pass
"""
    result = run(pytester, body)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*mark it @pytest.mark.tiffin_service(MyService)*"])


# A project that installed tiffin alone (no test extra): the plugin, an entry point, loads
# in its every pytest run; only a fixture that runs a service needs httpx, and says so.

WITHOUT_TEST_EXTRA = Path(__file__).resolve().parents[1] / "without_test_extra"


def test_the_plugin_loads_without_the_test_extra(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(WITHOUT_TEST_EXTRA))  # `import httpx` fails there
    pytester.makeini(
        "[pytest]\nfilterwarnings = error\naddopts = --strict-markers --strict-config\n"
        "tiffin_transport = inprocess\n"
    )
    pytester.makepyfile(
        """
import pytest
import tiffin

@tiffin.service
class Hello:
    @tiffin.api
    def hello(self) -> str:
        return "hello"

def test_without_tiffin_fixtures():
    with pytest.raises(ModuleNotFoundError):
        import httpx

def test_the_harness_names_the_extra():
    with pytest.raises(ModuleNotFoundError, match=r'pip install "tiffin\\[test\\]"'):
        from tiffin.testing import ServiceClient

@pytest.fixture
def anyio_backend():
    return "asyncio"

@pytest.mark.anyio
@pytest.mark.tiffin_service(Hello)
async def test_client(tiffin_client):
    pass
"""
    )
    # pytest-asyncio comes with the test extra too.
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_client*",
            "tiffin: fixture 'tiffin_client_factory' needs 'httpx', which is not installed: "
            'it comes with tiffin\'s test extra. Fix: pip install "tiffin[test]"',
        ]
    )
    result.stdout.no_fnmatch_line("*Error while loading plugin*")
