"""`tiffin serve` over a real socket: targets, --timeout, workers, metrics, graceful drain."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.serving import REPO, served, serving, tiffin_command


def test_serves_the_fastapi_example_over_a_socket() -> None:
    with served("examples/fastapi_mount/service.py:MyService") as url:
        assert httpx.get(f"{url}/v1/hello").json() == "Hello MyService"
        assert httpx.get(f"{url}/v1/hello1").json() == "Hello MyService"
        answer = httpx.post(f"{url}/greet", json={"who": "tests"})
        assert (answer.status_code, answer.text) == (200, "Hello tests, from MyService")
        assert httpx.get(f"{url}/livez").status_code == 200


def test_a_module_holding_one_service_needs_no_name() -> None:
    with served("tests.services.slow") as url:
        assert httpx.post(f"{url}/wait", json={"seconds": 0}).text == "done"


def test_timeout_option_overrides_the_decorator() -> None:
    with served("tests.services.slow:Slow", "--timeout", "1") as url:
        answer = httpx.post(f"{url}/wait", json={"seconds": 5}, timeout=10)
    assert answer.status_code == 504
    assert answer.json() == {"error": "Not able to process the request in 1 seconds"}


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tiffin_command("serve", *args, "--port", "1"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_missing_module_is_a_one_line_error() -> None:
    result = run_serve("no_such_module:Service")
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "no_such_module" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_name_that_is_not_a_service_lists_the_services() -> None:
    result = run_serve("tests.services.slow:Nope")
    assert result.returncode != 0
    assert "tests.services.slow:Nope does not exist (services there: Slow)" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failing_startup_exits_non_zero_naming_the_hook_and_cause() -> None:
    result = run_serve("tests.services.broken_startup:Broken")
    assert result.returncode != 0
    assert "on_startup hook 'load'" in result.stderr
    assert "model weights not found at /models/missing.bin" in result.stderr


def test_a_failing_mount_is_reported_once_naming_the_service_mount_and_cause() -> None:
    result = run_serve("tests.services.broken_mount:BrokenMount")
    assert result.returncode == 3, result.stderr
    message = (
        "service 'BrokenMount' failed to start: the lifespan of the starlette app mounted at "
        "'/v1' raised ConnectionError: database at db:5432 refused the connection"
    )
    assert result.stderr.count(message) == 1, result.stderr
    assert result.stderr.count("Traceback") == 1, result.stderr  # the cause's, logged once


def test_a_module_with_two_services_is_a_one_line_error_naming_both() -> None:
    result = run_serve("tests.services.two_services")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "holds 2 services (First, Second)" in result.stderr
    assert "tests.services.two_services:NAME" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_module_with_no_service_is_a_one_line_error() -> None:
    result = run_serve("tests/services/no_service.py")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "holds 0 services (none)" in result.stderr
    assert "Traceback" not in result.stderr


# tiffin's own log records, printed as uvicorn prints its own, at --log-level.


@pytest.mark.parametrize("log_level", ["info", "critical"])
def test_an_exception_in_an_api_is_logged_once_as_uvicorn_logs(log_level: str) -> None:
    with serving("tests.services.raising:Raising", "--log-level", log_level) as server:
        answer = httpx.post(f"{server.url}/divide", json={})
    assert answer.status_code == 500
    output = server.output
    record = "service 'Raising': unhandled error in POST /divide"
    if log_level == "critical":
        assert record not in output and "Traceback" not in output, output
        return
    assert output.count(record) == 1, output
    assert re.search(rf"^ERROR: +{re.escape(record)}$", output, re.MULTILINE), output
    assert output.count("Traceback") == 1, output
    assert output.count("ZeroDivisionError: division by zero") == 1, output


# Several workers: uvicorn's own supervisor, one port, metrics aggregated.


def pids_until_both_workers_answered(url: str, *, within: float = 20.0) -> list[int]:
    """POST /pid on fresh connections, eight at a time, until two pids have answered."""
    pids: list[int] = []
    deadline = time.monotonic() + within

    def one() -> int:
        answer = httpx.post(f"{url}/pid", json={"delay": 0.05}, timeout=10)
        assert answer.status_code == 200, answer.text
        return int(answer.json())

    with ThreadPoolExecutor(max_workers=8) as pool:
        while len(set(pids)) < 2 and time.monotonic() < deadline:
            pids.extend(pool.map(lambda _: one(), range(8)))
    return pids


def test_two_workers_share_the_port_and_metrics_count_both() -> None:
    with serving("tests.services.pids:Pids", "--workers", "2") as server:
        pids = pids_until_both_workers_answered(server.url)
        scrapes = [httpx.get(f"{server.url}/metrics").text for _ in range(6)]

    assert len(set(pids)) == 2, f"one worker answered everything: {set(pids)}"
    assert server.process.pid not in pids  # the supervisor serves nothing itself
    labels = {"endpoint": "/pid", "http_response_code": "200", "service_name": "Pids"}
    # Whichever worker answers /metrics, it reports the requests of both.
    totals = {metric_value(text, "bentoml_service_request_total", **labels) for text in scrapes}
    assert totals == {float(len(pids))}
    durations = metric_value(
        scrapes[-1], "bentoml_service_request_duration_seconds_count", **labels
    )
    assert durations == float(len(pids))
    assert "Started parent process" in server.output


def metric_value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def test_the_metrics_directory_is_made_for_the_workers_and_removed_after(
    tmp_path: Path,
) -> None:
    # The server's temporary directory is this test's own: other runs cannot add to it.
    with serving(
        "tests.services.pids:Pids", "--workers", "2", env={"TMPDIR": str(tmp_path)}
    ) as server:
        during = list(tmp_path.glob("tiffin-metrics-*"))
        httpx.post(f"{server.url}/pid", json={})
        assert len(during) == 1, during
        assert any(during[0].iterdir())  # the workers write their values there
    assert server.process.returncode == 0
    assert list(tmp_path.glob("tiffin-metrics-*")) == []


# Graceful shutdown: stop accepting, drain, run every shutdown step, exit 0.


@pytest.mark.parametrize(
    ("stop_signal", "workers"),
    [(signal.SIGTERM, "1"), (signal.SIGTERM, "2"), (signal.SIGINT, "1")],
    ids=["sigterm-1-worker", "sigterm-2-workers", "sigint-1-worker"],
)
def test_a_stop_signal_drains_the_request_in_flight_and_runs_shutdown(
    tmp_path: Path, stop_signal: signal.Signals, workers: str
) -> None:
    events = tmp_path / "events.txt"
    with serving(
        "tests.services.draining:Draining",
        "--workers",
        workers,
        env={"TIFFIN_TEST_RECORD": str(events)},
    ) as server:
        with ThreadPoolExecutor(max_workers=1) as pool:
            in_flight = pool.submit(
                httpx.post, f"{server.url}/work", json={"seconds": 3}, timeout=15
            )
            wait_for(lambda: "request started" in events.read_text(), within=10)
            server.process.send_signal(stop_signal)
            # The supervisor of several workers notices signals every 0.5 s.
            assert refuses_connections(server.url, within=2.0)
            assert not in_flight.done()  # refused new work while still draining
            assert in_flight.result(timeout=15).status_code == 200
            assert in_flight.result().text == "done"
        returncode = server.wait_for_exit(timeout=15)

    assert returncode == 0, server.output
    served_by = next(
        line.split()[-1] for line in lines(events) if line.startswith("request started")
    )
    # The worker that served the request: finished it, then mount, then on_shutdown.
    mine = [line.rsplit(" ", 1)[0] for line in lines(events) if line.endswith(served_by)]
    assert mine == [
        "startup",
        "mount started",
        "request started",
        "request finished",
        "mount stopped",
        "on_shutdown",
    ]
    # Every worker ran its shutdown steps.
    shutdowns = [line for line in lines(events) if line.startswith("on_shutdown")]
    assert len(shutdowns) == int(workers)


def test_the_grace_period_bounds_the_drain(tmp_path: Path) -> None:
    events = tmp_path / "events.txt"
    with serving(
        "tests.services.draining:Draining",
        "--graceful-timeout",
        "1",
        env={"TIFFIN_TEST_RECORD": str(events)},
    ) as server:
        with ThreadPoolExecutor(max_workers=1) as pool:
            in_flight = pool.submit(
                httpx.post, f"{server.url}/work", json={"seconds": 30}, timeout=30
            )
            wait_for(lambda: "request started" in events.read_text(), within=10)
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            returncode = server.wait_for_exit(timeout=15)
            stopped_after = time.monotonic() - signalled
            # Cut off at the deadline: uvicorn cancels the handler and answers 500.
            assert in_flight.result(timeout=15).status_code == 500

    assert returncode == 0, server.output
    assert stopped_after < 5
    assert [line.split()[0] for line in lines(events)][-2:] == ["mount", "on_shutdown"]
    assert "request finished" not in events.read_text()


def refuses_connections(url: str, *, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/livez", timeout=1)
        except httpx.ConnectError:
            return True
        except httpx.HTTPError:
            pass  # queued just before the listening socket closed
        time.sleep(0.05)
    return False


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def wait_for(condition: Callable[[], bool], *, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        with contextlib.suppress(FileNotFoundError):
            if condition():
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within}s: {condition}")
        time.sleep(0.05)
