"""Deadlines cover sync code: a blocked sync step or handler fails its test at the deadline,
naming the service, the step and the user's line; the session goes on (issue 15, item 1)."""

from __future__ import annotations

import time

import pytest

# Imported here so every pytester run below shares one copy of the module (pytester
# drops modules first imported during a run).
import tests.testing.blocking_services
from tests.testing.blocking_services import line_of

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider -p no:randomly
"""

SOURCE = tests.testing.blocking_services.__file__

STARTUP = """
import pytest

from tests.testing.blocking_services import Quick, SlowHook, SlowInit


@pytest.mark.tiffin_service(SlowInit)
async def test_init(tiffin_client):
    pass


@pytest.mark.tiffin_service(SlowHook)
async def test_hook(tiffin_client):
    pass


@pytest.mark.tiffin_service(Quick)
async def test_after(tiffin_client):
    assert (await tiffin_client.post("/ping")).text == "pong"
"""


def test_a_blocked_sync_step_fails_its_test_at_the_deadline(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(STARTUP)
    started = time.monotonic()
    result = pytester.runpytest("--tiffin-startup-timeout=0.5")
    elapsed = time.monotonic() - started
    result.assert_outcomes(passed=1, errors=2)  # the session went on
    # Each blocked step failed at its deadline, not when its 4-second sleep ended.
    assert elapsed < 3.5, elapsed
    result.stdout.fnmatch_lines(
        [
            "*tiffin: the startup of service 'SlowInit' did not finish within 0.5s; it hung in "
            f"SlowInit.__init__, blocked in __init__() at {SOURCE}:{line_of('SlowInit blocks')}"
            "*left running*",
            "*tiffin: the startup of service 'SlowHook' did not finish within 0.5s; it hung in "
            "on_startup hook 'load_model', blocked in load_model() at "
            f"{SOURCE}:{line_of('load_model blocks')}*",
        ]
    )
    assert "tiffin/testing/" not in result.stdout.str()


HANDLER = """
import pytest

from tests.testing.blocking_services import Quick, SlowHandler


@pytest.mark.tiffin_service(SlowHandler)
async def test_slow(tiffin_client):
    await tiffin_client.post("/predict")


@pytest.mark.tiffin_service(Quick)
async def test_after(tiffin_client):
    assert (await tiffin_client.post("/ping")).text == "pong"
"""


def test_a_blocked_sync_handler_is_named_at_the_request_deadline(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(HANDLER)
    started = time.monotonic()
    result = pytester.runpytest("--tiffin-request-timeout=0.5")
    assert time.monotonic() - started < 3.5
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the request POST /predict did not finish within 0.5s; it hung in a sync "
            f"handler, blocked in predict() at {SOURCE}:{line_of('predict blocks')} "
            "(thread 'tiffin-SlowHandler*",
        ]
    )
