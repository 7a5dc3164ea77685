"""Tests of tiffin on Ray Serve: run by tox's py311-ray environment (`tox -e py311-ray`).

One local Ray serves the whole session (the ``tiffin_ray`` fixture); each test module
deploys its services once. The main test run never collects this folder.
"""

from __future__ import annotations

import os
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
    # The one proxy runs on the head; Ray would send every request to the head's own replica
    # while it has room, and a replica on the second node would see none. Read by the proxy
    # when it starts: the session's cluster inherits it from here.
    os.environ["RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING"] = "0"
    for line in RAY_WARNINGS:
        config.addinivalue_line("filterwarnings", line)


# What the failure tests measured (requests, failures), printed at the end of the run.
REPORTS: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORTS:
        terminalreporter.section("tiffin on Ray: failures under load")
        for line in REPORTS:
            terminalreporter.write_line(line)
