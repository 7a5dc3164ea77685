"""tiffin's harness with BentoML 1.4 services: in-process, live, and over `bentoml serve`."""

from __future__ import annotations

import os
import time
from pathlib import Path

import bentoml
import httpx
import pytest
from prometheus_client import REGISTRY, values

import tiffin
from tiffin.exceptions import StartupError
from tiffin.testing import DeadlineExceeded, HarnessSettings, ServiceClient
from tiffin.testing.backends import TiffinBackend, backend_for
from tiffin.testing.bentoml import (
    PROMETHEUS_ENV,
    BentoMLBackend,
    BentoMLServer,
    is_bentoml_service,
    serve_target,
)

from .bento_services import EVENTS, Broken, Hanging, Plain, Recorder, app, current

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _clear_events() -> None:
    EVENTS.clear()


def test_a_bentoml_service_is_recognised() -> None:
    @tiffin.service
    class TiffinService:
        pass

    assert is_bentoml_service(Recorder)
    assert not is_bentoml_service(TiffinService)
    assert not is_bentoml_service(Recorder.inner)
    assert isinstance(backend_for(Recorder), BentoMLBackend)
    assert isinstance(ServiceClient(Recorder).backend, BentoMLBackend)
    assert type(backend_for(TiffinService)) is TiffinBackend


def test_a_wrong_object_names_both_kinds_of_service() -> None:
    with pytest.raises(TypeError, match=r"tiffin service .* or a BentoML service .*got type"):
        ServiceClient(Recorder.inner)


async def test_the_whole_lifespan_runs_in_order() -> None:
    async with ServiceClient(Recorder) as client:
        assert EVENTS == ["deployment", "init", "startup hook", "app startup"]
        assert (await client.get("/v1/hello")).json() == "Hello from Recorder"
        assert (await client.get("/v1/current")).json() == "Recorder"
        assert (await client.post("/greet", json={"who": "Bo"})).text == "Hello Bo"
    assert EVENTS[4:] == ["app shutdown", "shutdown hook"]


async def test_shutdown_runs_when_the_body_fails() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with ServiceClient(Recorder):
            raise RuntimeError("boom")
    assert EVENTS[-2:] == ["app shutdown", "shutdown hook"]


async def test_a_prometheus_directory_exists_only_while_the_service_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PROMETHEUS_ENV, "/the/users/own/dir")
    value_class = values.ValueClass
    collectors = set(REGISTRY._collector_to_names)
    async with ServiceClient(Recorder) as client:
        directory = os.environ[PROMETHEUS_ENV]
        assert directory != "/the/users/own/dir" and os.path.isdir(directory)
        await client.post("/greet", json={})
        metrics = (await client.get("/metrics")).text
        assert 'bentoml_service_request_total{endpoint="/greet"' in metrics
        assert 'service_name="Recorder"' in metrics
    assert os.environ[PROMETHEUS_ENV] == "/the/users/own/dir"
    assert not os.path.exists(directory)
    assert values.ValueClass is value_class
    assert set(REGISTRY._collector_to_names) == collectors


async def test_one_app_after_another_in_one_process() -> None:
    # BentoML registers its metrics in prometheus_client's global registry: without the
    # harness unregistering them, the second app fails with "Duplicated timeseries".
    for greeting in ("Hi", "Yo"):
        async with ServiceClient(Recorder, greeting=greeting) as client:
            assert (await client.post("/greet", json={})).text == f"{greeting} you"
            assert (await client.get("/metrics")).status_code == 200


async def test_a_second_bentoml_service_at_once_is_refused() -> None:
    async with ServiceClient(Recorder):
        with pytest.raises(
            RuntimeError,
            match=r"'Plain' cannot start while BentoML service "
            r"'Recorder' runs in this process.*get_current_service",
        ):
            async with ServiceClient(Plain):
                pass
    async with ServiceClient(Plain) as client:  # and then it can
        assert (await client.post("/ping")).text == "pong"


async def test_a_startup_failure_is_reported_at_once_with_its_cause() -> None:
    started = time.monotonic()
    with pytest.raises(StartupError) as failure:
        async with ServiceClient(Broken):
            pass
    assert time.monotonic() - started < 2
    message = str(failure.value)
    assert message.startswith(
        "BentoML service 'Broken' failed to start: ModelMissing: model weights not found at "
        "/models/missing.bin in load_model() at "
    ), message
    assert isinstance(failure.value.__cause__, Exception)
    assert os.environ.get(PROMETHEUS_ENV) is None  # the process state was released
    async with ServiceClient(Plain):
        pass


async def test_a_hung_startup_names_the_hook() -> None:
    settings = HarnessSettings(startup_timeout=0.3)
    with pytest.raises(
        DeadlineExceeded,
        match=r"the startup of BentoML service 'Hanging' did "
        r"not finish within 0.3s; it hung in wait_for_gpu\(\) at .*bento_services",
    ):
        async with ServiceClient(Hanging, settings=settings):
            pass
    async with ServiceClient(Plain):  # nothing left behind
        pass


async def test_attribute_overrides_are_applied_and_undone() -> None:
    async with ServiceClient(Recorder, greeting="Hey") as client:
        assert (await client.get("/v1/hello")).json() == "Hey from Recorder"
    assert Recorder.inner.greeting == "Hello"
    with pytest.raises(TypeError, match="service 'Recorder' has no attribute 'colour'"):
        async with ServiceClient(Recorder, colour="blue"):
            pass


async def test_dependency_overrides_reach_this_runs_requests_only() -> None:
    overrides = {bentoml.get_current_service: lambda: "a stand-in"}
    async with ServiceClient(Recorder, dependency_overrides=overrides) as client:
        assert (await client.get("/v1/current")).json() == "str"
        assert dict(app.dependency_overrides) == {}  # the app's own table is unchanged
    async with ServiceClient(Recorder) as client:
        assert (await client.get("/v1/current")).json() == "Recorder"
    with pytest.raises(TypeError, match="service 'Plain' mounts no FastAPI app"):
        async with ServiceClient(Plain, dependency_overrides=overrides):
            pass
    assert current  # the route under test exists


async def test_traffic_overrides_reach_bentomls_middleware() -> None:
    async with ServiceClient(Recorder, traffic={"timeout": 0.2}) as client:
        response = await client.post("/wait", json={"seconds": 5})
    assert response.status_code == 504
    assert response.json() == {"error": "Not able to process the request in 0.2 seconds"}
    assert Recorder.config["traffic"] == {"timeout": 10}


def test_traffic_keys_bentoml_does_not_apply_are_refused() -> None:
    with pytest.raises(
        TypeError,
        match=r"traffic override 'max_body_size' is not supported "
        r"for BentoML service 'Recorder': BentoML 1.4 applies only 'timeout' "
        r"and 'max_concurrency'",
    ):
        ServiceClient(Recorder, traffic={"max_body_size": 10})


async def test_the_live_transport() -> None:
    async with ServiceClient(Recorder, transport="live", greeting="Live") as client:
        assert str(client.base_url).startswith("http://127.0.0.1:")
        assert (await client.get("/v1/hello")).json() == "Live from Recorder"
        assert EVENTS[:4] == ["deployment", "init", "startup hook", "app startup"]
    assert EVENTS[-2:] == ["app shutdown", "shutdown hook"]
    assert os.environ.get(PROMETHEUS_ENV) is None


async def test_an_app_failing_in_process_answers_as_bentoml_serve_does(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # BentoML's timeout middleware waits for a first byte that never comes, then returns
    # without a response (the app's exception is dropped); under `bentoml serve`, uvicorn
    # then answers 500 "Internal Server Error" and logs that. In-process: the same.
    started = time.monotonic()
    async with ServiceClient(Recorder, traffic={"timeout": 0.2}) as client:
        response = await client.get("/bare/anything")
        assert time.monotonic() - started >= 0.2
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    assert "ASGI callable returned without starting response." in caplog.text


async def test_an_exception_after_a_500_is_logged_not_raised_into_the_test(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # FastAPI answers 500 and re-raises; a server logs the exception, the client gets the 500.
    async with ServiceClient(Recorder) as client:
        response = await client.get("/v1/fails")
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    assert "Exception in ASGI application" in caplog.text
    assert "RuntimeError: the route failed" in caplog.text


async def test_streaming_in_process() -> None:
    async with ServiceClient(Recorder, streaming=True) as client:
        async with client.stream("GET", "/v1/hello") as response:
            assert await response.aread() == b'"Hello from Recorder"'


# --- the pytest plugin ------------------------------------------------------------------

PLUGIN_INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
addopts = --strict-markers -p no:cacheprovider
filterwarnings =
    error
""" + "".join(
    f"    {line}\n"
    for line in (
        r"ignore:GitWildMatchPattern \('gitwildmatch'\) is deprecated:DeprecationWarning",
        "ignore:The `__get_pydantic_core_schema__` method of the `BaseModel` class is deprecated"
        ":pydantic.warnings.PydanticDeprecatedSince211",
        "ignore:Accessing the 'model_fields' attribute on the instance is deprecated"
        ":pydantic.warnings.PydanticDeprecatedSince211",
    )
)

PLUGIN_TESTS = """
import httpx
import pytest

from tests_bentoml.bento_services import Broken, Recorder


@pytest.mark.asyncio
@pytest.mark.tiffin_service(Recorder, greeting="Hi")
async def test_marker(tiffin_client):
    assert (await tiffin_client.get("/v1/hello")).json() == "Hi from Recorder"


@pytest.mark.asyncio
@pytest.mark.parametrize("tiffin_transport", ["inprocess", "live"])
@pytest.mark.tiffin_service(Recorder)
async def test_both_transports(tiffin_client, tiffin_transport):
    assert (await tiffin_client.post("/greet", json={"who": tiffin_transport})).status_code == 200


@pytest.mark.tiffin_service(Recorder, greeting="Served")
def test_live_server(tiffin_live_server):
    assert httpx.get(tiffin_live_server + "/v1/hello").json() == "Served from Recorder"


@pytest.mark.asyncio
async def test_factory(tiffin_client_factory):
    async with tiffin_client_factory(Recorder) as client:
        assert (await client.get("/v1/current")).json() == "Recorder"


@pytest.mark.asyncio
@pytest.mark.tiffin_service(Broken)
async def test_broken(tiffin_client):
    pass
"""


def test_the_plugin_fixtures_take_a_bentoml_service(pytester: pytest.Pytester) -> None:
    pytester.makeini(PLUGIN_INI)
    pytester.makepyfile(PLUGIN_TESTS)
    pytester.syspathinsert(HERE.parent)
    result = pytester.runpytest()
    result.assert_outcomes(passed=5, errors=1)
    result.stdout.fnmatch_lines(
        ["*tiffin: BentoML service 'Broken' failed to start: ModelMissing: model weights *"]
    )


# --- bentoml serve ----------------------------------------------------------------------


def test_serve_target_of_a_service() -> None:
    assert serve_target(Recorder) == ("tests_bentoml.bento_services:Recorder", str(HERE.parent))


def test_bentoml_serve_runs_the_service_and_stops_it_gracefully(tmp_path: Path) -> None:
    log = tmp_path / "events.log"
    server = BentoMLServer(Recorder, env={"TIFFIN_TEST_EVENT_LOG": str(log)})
    with server as url:
        assert url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(url + "/v1/hello").json() == "Hello from Recorder"
        assert httpx.get(url + "/readyz").status_code == 200
    assert server.process is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/livez")
    events = log.read_text().splitlines()
    # SIGTERM let BentoML shut the worker down: the hooks ran.
    assert events[0] == "deployment"
    assert events[-2:] == ["app shutdown", "shutdown hook"]


def test_a_bentoml_serve_that_cannot_start_is_reported_with_its_output(tmp_path: Path) -> None:
    (tmp_path / "broken_module.py").write_text("raise ImportError('no such model package')\n")
    started = time.monotonic()
    with pytest.raises(
        RuntimeError,
        match=r"(?s)exited with status \d+ before it was ready.*"
        "no such model package",
    ):
        BentoMLServer("broken_module:Svc", working_dir=tmp_path).start()
    assert time.monotonic() - started < 60


def test_the_session_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeini(PLUGIN_INI)
    pytester.makepyfile(
        """
        import httpx
        from tests_bentoml.bento_services import Recorder

        def test_one(tiffin_bentoml_serve):
            url = tiffin_bentoml_serve(Recorder)
            assert httpx.get(url + "/v1/hello").json() == "Hello from Recorder"

        def test_two(tiffin_bentoml_serve):
            assert tiffin_bentoml_serve(Recorder) == tiffin_bentoml_serve(Recorder)
        """
    )
    pytester.syspathinsert(HERE.parent)
    pytester.runpytest().assert_outcomes(passed=2)
