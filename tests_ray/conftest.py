"""Tests of tiffin on Ray Serve: run by tox's py311-ray environment (`tox -e py311-ray`).

One local Ray serves the whole session (the ``tiffin_ray`` fixture); each test module
deploys its services once. The main test run never collects this folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tiffin.testing.ray import RAY_WARNINGS

HERE = Path(__file__).parent
SERVICES = HERE / "services"


def target(name: str) -> str:
    """``tests_ray/services/<name>.py:<Service>`` as an absolute target."""
    module, _, service = name.partition(":")
    return f"{SERVICES / module}.py:{service}"


def pytest_configure(config: pytest.Config) -> None:
    for line in RAY_WARNINGS:
        config.addinivalue_line("filterwarnings", line)
