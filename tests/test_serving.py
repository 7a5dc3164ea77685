"""`tiffin serve` over a real socket: the README's main command, --timeout, bad targets."""

from __future__ import annotations

import subprocess

import httpx

from tests.serving import REPO, served, tiffin_command


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
