"""A service whose startup fails on Ray: tiffin's message in Ray's status and on the command."""

from __future__ import annotations

import subprocess
import sys

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
