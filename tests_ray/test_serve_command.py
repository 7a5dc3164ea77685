"""`tiffin serve --ray --address` on the session's cluster; a failed startup's message."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests_ray.conftest import target
from tiffin.testing.ray import LocalRay

BROKEN_MESSAGE = (
    "service 'Broken' failed to start: on_startup hook 'load_model' raised "
    "RuntimeError: the model file is missing"
)


def test_a_failed_startup_names_the_service_the_step_and_the_cause(tiffin_ray: LocalRay) -> None:
    with pytest.raises(RuntimeError) as failed:
        with tiffin_ray.deploy(target("broken:Broken"), ray_actor_options={"num_cpus": 0.5}):
            pass
    assert BROKEN_MESSAGE in str(failed.value)


def test_tiffin_serve_ray_reports_a_failed_startup_and_exits_3(tiffin_ray: LocalRay) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tiffin",
            "serve",
            target("broken:Broken"),
            "--ray",
            "--address",
            tiffin_ray.address,
        ],
        env=tiffin_ray.env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 3, result.stderr[-2000:]
    assert f"tiffin: error: {BROKEN_MESSAGE}" in result.stderr


def test_tiffin_serve_ray_serves_until_sigint_then_removes_the_application(
    tiffin_ray: LocalRay,
) -> None:
    from ray import serve

    command = [sys.executable, "-m", "tiffin", "serve", target("slow:Slow"), "--ray"]
    with subprocess.Popen(
        [*command, "--address", tiffin_ray.address, "--replicas", "2"],
        env=tiffin_ray.env,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None
        lines = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:
            lines.append(process.stderr.readline())
            if "is serving" in lines[-1]:
                break
        assert "(Ray Serve, 2 replicas); Ctrl-C stops it" in lines[-1], "".join(lines)
        answer = httpx.post(f"{tiffin_ray.url}/work", json={"seconds": 0}, timeout=10)
        assert answer.status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(120) == 0
    assert "Slow" not in serve.status().applications
