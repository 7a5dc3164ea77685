"""Faults in every layer, over a real socket: what the client gets, what the log says.

- an exception before the response started: an immediate 500 (tiffin's generic
  JSON, or the mounted framework's own 500 page), the traceback logged once,
  never sent to the client;
- after the response started: the response is cut short (no last chunk), the
  traceback logged;
- a handler past the timeout: 504 JSON while the server goes on serving;
- a lifespan step that fails: startup stops naming the mount and the cause,
  after shutting down what had started; shutdown runs every other step;
- a worker killed under load: the supervisor replaces it and the server keeps serving.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.asgi import metric_value
from tests.reliability import rawhttp
from tests.reliability.services.faults import FAULT_MARK
from tests.reliability.support import OutputMark, assert_no_traceback, wait_for
from tests.serving import REPO, ServedProcess, free_port, serving, stop, tiffin_command

GENERIC_500 = {"error": "An unexpected error has occurred, please check the server log."}


@pytest.fixture
def server(faults_server: ServedProcess) -> ServedProcess:
    return faults_server


def logged_fault(mark: OutputMark, where: str) -> str:
    """The output since ``mark`` once the fault planted ``where`` has been logged, settled."""
    message = f"RuntimeError: {FAULT_MARK} in {where}"
    wait_for(lambda: message in mark.text(), within=10, what=f"the log of {message!r}")
    output = mark.settled()
    assert output.count(message) == 1, output  # logged once, not once per layer
    return output


# --- before the response started: an immediate 500 -------------------------------------------

TIFFIN_500 = ("application/json", json.dumps(GENERIC_500, separators=(",", ":")))
STARLETTE_500 = ("text/plain; charset=utf-8", "Internal Server Error")


@pytest.mark.parametrize(
    ("method", "path", "where", "expected"),
    [
        ("GET", "/boom/middleware-early", "user middleware before the response", TIFFIN_500),
        ("POST", "/boom", "an async API", TIFFIN_500),
        ("POST", "/boom_sync", "a sync API in its thread", TIFFIN_500),
        ("GET", "/bare/early", "bare ASGI before its response", TIFFIN_500),
        # A mounted framework that answers its own errors keeps its own 500 page.
        ("GET", "/f/early", "fastapi before its response", STARLETTE_500),
        ("GET", "/s/early", "starlette before its response", STARLETTE_500),
        ("GET", "/q/early", "quart before its response", ("text/html; charset=utf-8", None)),
    ],
    ids=["user-middleware", "api", "sync-api", "bare", "fastapi", "starlette", "quart"],
)
def test_a_fault_before_the_response_gets_a_500_and_one_logged_traceback(
    server: ServedProcess,
    method: str,
    path: str,
    where: str,
    expected: tuple[str, str | None],
) -> None:
    mark = OutputMark(server)
    answer = httpx.request(method, f"{server.url}{path}", timeout=10)
    content_type, body = expected
    assert answer.status_code == 500
    assert answer.headers["content-type"] == content_type
    if body is not None:
        assert answer.text == body
    assert FAULT_MARK not in answer.text
    assert_no_traceback(answer.text, "the response body")
    assert "Traceback (most recent call last)" in logged_fault(mark, where)


@pytest.mark.parametrize(
    ("method", "path", "where"),
    [
        ("POST", "/boom/middleware-late", "user middleware after the response started"),
        ("GET", "/f/late", "fastapi after its response started"),
        ("GET", "/s/late", "starlette after its response started"),
        ("GET", "/q/late", "quart after its response started"),
        ("GET", "/bare/late", "bare ASGI after its response started"),
    ],
    ids=["user-middleware", "fastapi", "starlette", "quart", "bare"],
)
def test_a_fault_after_the_response_started_cuts_it_short(
    server: ServedProcess, method: str, path: str, where: str
) -> None:
    mark = OutputMark(server)
    data = rawhttp.exchange(server.url, rawhttp.request_bytes(method, path))
    answer = rawhttp.parse_response(data)
    assert answer.status == 200
    assert answer.header("transfer-encoding") == "chunked"
    assert answer.body == b"first chunk;"
    assert not data.endswith(b"0\r\n\r\n"), "the cut response must not look complete"
    assert_no_traceback(answer.text, "the response body")
    assert "Traceback (most recent call last)" in logged_fault(mark, where)


def test_the_server_serves_on_after_every_fault(server: ServedProcess) -> None:
    for path in ("/boom", "/boom_sync", "/boom/middleware-early", "/bare/early"):
        httpx.request("POST" if "boom" in path else "GET", f"{server.url}{path}", timeout=10)
    assert httpx.post(f"{server.url}/fine", json={"text": "still here"}).text == "still here"
    assert httpx.get(f"{server.url}/f/fine").json() == "fastapi fine"


# --- past the timeout -------------------------------------------------------------------------

TIMED_OUT = {"error": "Not able to process the request in 1 seconds"}


def test_an_async_handler_that_never_returns_gets_504(server: ServedProcess) -> None:
    answer = httpx.post(f"{server.url}/hang", timeout=10)
    assert (answer.status_code, answer.json()) == (504, TIMED_OUT)


def test_a_sync_handler_blocking_past_the_timeout_gets_504_while_others_are_served(
    server: ServedProcess,
) -> None:
    with ThreadPoolExecutor(1) as pool:
        blocked = pool.submit(httpx.post, f"{server.url}/block", json={"seconds": 3}, timeout=10)
        answer = blocked.result()
        # The thread still sleeps (3 s against a 1 s timeout); the loop is free.
        served = httpx.post(f"{server.url}/fine", json={"text": "meanwhile"}, timeout=10)
    assert (answer.status_code, answer.json()) == (504, TIMED_OUT)
    assert (served.status_code, served.text) == (200, "meanwhile")


# --- lifespan faults of each mounted framework --------------------------------------------------

LIFESPAN_TARGET = "tests.reliability.services.lifespan_faults:LifespanFaults"
FRAMEWORKS = {"bare": "asgi", "starlette": "starlette", "quart": "quart", "fastapi": "fastapi"}
# The exception the failure is reported as: the app's own, except from Quart, which
# catches it and sends only its message (``lifespan.*.failed``).
REPORTED = {kind: "RuntimeError" if kind == "quart" else "FileNotFoundError" for kind in FRAMEWORKS}
START_ORDER = ["hook", *FRAMEWORKS]  # the hook, then the mounts in the order they apply


def steps(output: str) -> list[str]:
    return [line.removeprefix("step: ") for line in output.splitlines() if line.startswith("step:")]


@pytest.mark.parametrize("kind", FRAMEWORKS)
def test_a_failing_mounted_startup_stops_serve_naming_the_mount_and_cause(kind: str) -> None:
    result = subprocess.run(
        tiffin_command("serve", LIFESPAN_TARGET, "--port", str(free_port())),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TIFFIN_TEST_FAULT": f"{kind}:startup", "PYTHONUNBUFFERED": "1"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert (
        f"service 'LifespanFaults' failed to start: the lifespan of the {FRAMEWORKS[kind]} app "
        f"mounted at '/{kind}' raised {REPORTED[kind]}: planted startup fault in the {kind} app"
    ) in output
    # What had started is shut down, in reverse; nothing after the failure started.
    started = START_ORDER[: START_ORDER.index(kind)]
    assert steps(output) == [f"{s} started" for s in started] + [
        f"{s} stopped" for s in reversed(started)
    ]


@pytest.mark.parametrize("kind", FRAMEWORKS)
def test_a_failing_mounted_shutdown_runs_every_other_step_and_is_logged(kind: str) -> None:
    with serving(LIFESPAN_TARGET, env={"TIFFIN_TEST_FAULT": f"{kind}:shutdown"}) as server:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        stop(server)
    output = server.output
    assert server.process.returncode == 0, output  # stopping was asked for; it stopped
    assert (
        f"service 'LifespanFaults': the lifespan of the {FRAMEWORKS[kind]} app mounted at "
        f"'/{kind}' raised {REPORTED[kind]}: planted shutdown fault in the {kind} app"
    ) in output
    expected_stops = [f"{s} stopped" for s in reversed(START_ORDER) if s != kind]
    assert steps(output) == [f"{s} started" for s in START_ORDER] + expected_stops


# --- a worker killed under load ------------------------------------------------------------------

LOAD_THREADS = 6


def test_a_worker_killed_under_load_is_replaced_and_the_server_keeps_serving() -> None:
    outcomes: list[tuple[float, int | str]] = []  # (when, the pid that answered or the error)
    stopping = threading.Event()

    def load(url: str) -> None:
        while not stopping.is_set():
            try:
                answer = httpx.post(f"{url}/pid", json={"delay": 0.02}, timeout=10)
                result: int | str = (
                    int(answer.json())
                    if answer.status_code == 200
                    else f"HTTP {answer.status_code}"
                )
            except httpx.TransportError as exc:
                result = type(exc).__name__
            outcomes.append((time.monotonic(), result))

    def pids_since(moment: float) -> set[int]:
        return {pid for when, pid in list(outcomes) if when > moment and isinstance(pid, int)}

    with serving("tests.reliability.services.workers:Workers", "--workers", "2") as server:
        with ThreadPoolExecutor(LOAD_THREADS) as pool:
            for _ in range(LOAD_THREADS):
                pool.submit(load, server.url)
            try:
                workers = wait_for(
                    lambda: pids if len(pids := pids_since(0)) == 2 else None,
                    within=30,
                    what="both workers answered",
                )
                # A request the victim is known to hold when it dies.
                with httpx.stream("POST", f"{server.url}/hold", json={}, timeout=10) as held:
                    lines = held.iter_lines()
                    victim = int(next(lines))
                    killed_at = time.monotonic()
                    os.kill(victim, signal.SIGKILL)
                    with pytest.raises(httpx.TransportError):
                        next(lines)
                replacement = wait_for(
                    lambda: pids_since(killed_at) - workers,
                    within=30,
                    what="a replacement worker answered",
                )
                answered_at = min(when for when, pid in list(outcomes) if pid in replacement)
                wait_for(
                    lambda: len([1 for when, _ in list(outcomes) if when > answered_at]) > 50,
                    within=30,
                    what="50 more answers after the replacement",
                )
            finally:
                stopping.set()
        # One /hold served to its end after the kill: the gauge has a live sample to show.
        assert httpx.post(f"{server.url}/hold", json={"seconds": 0}).text.endswith("released\n")
        metrics = httpx.get(f"{server.url}/metrics").text

    assert victim in workers
    failures = [result for _, result in outcomes if isinstance(result, str)]
    # Only requests in flight on the killed worker may fail, and only as a broken connection.
    assert len(failures) <= LOAD_THREADS, failures
    assert not [failure for failure in failures if failure.startswith("HTTP")], failures
    after = [result for when, result in outcomes if when > answered_at + 1]
    assert after and all(isinstance(result, int) for result in after), after
    assert f"Child process [{victim}] died" in server.output
    # The request the killed worker held does not stay "in progress" forever.
    in_progress = metric_value(
        metrics, "bentoml_service_request_in_progress", endpoint="/hold", service_name="Workers"
    )
    assert in_progress == 0.0
