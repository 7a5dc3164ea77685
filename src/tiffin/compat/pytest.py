"""pytest's private fixture internals, the one place tiffin touches them.

Checked against pytest 8.4.0 (the floor in pyproject.toml) and 9.2.0 (the latest
installed):

- ``FixtureRequest._pyfuncitem`` is the test a fixture is set up for, also for a
  fixture wider than the test (``request.node`` is then the module or session).
- ``FixtureDef.func`` is the fixture function (typed ``Final``); pytest-asyncio and
  anyio swap it while they set a fixture up, and tiffin does the same to run
  ``tiffin_client`` on the requesting test's loop.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest


def requesting_test(request: pytest.FixtureRequest) -> pytest.Item | pytest.Collector:
    """The test a fixture is being set up for (its node if pytest no longer says)."""
    item: pytest.Item | pytest.Collector = getattr(request, "_pyfuncitem", request.node)
    return item


def fixture_function(fixturedef: pytest.FixtureDef[Any]) -> Any:
    return fixturedef.func


def with_fixture_function(
    fixturedef: pytest.FixtureDef[Any], func: Any
) -> Generator[None, Any, Any]:
    """In a ``pytest_fixture_setup`` wrapper: set the fixture up with ``func`` instead."""
    original = fixturedef.func
    fixturedef.func = func  # type: ignore[misc]
    try:
        return (yield)
    finally:
        fixturedef.func = original  # type: ignore[misc]
