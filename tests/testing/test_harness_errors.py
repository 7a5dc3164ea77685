"""Harness misuse is a short pytest failure, and its first suggested fix works as written.

Issue 15, item 11: no ``pytest.UsageError`` from a fixture, no plugin-internal frames.
"""

from __future__ import annotations

import re

import pytest

# Imported here so every pytester run below shares one copy of the module (pytester
# drops modules first imported during a run).
import tests.testing.sample_services  # noqa: F401

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider -p no:randomly
"""

HEADER = """
import pytest
import pytest_asyncio

from tests.testing.sample_services import Recorder
"""


def run(pytester: pytest.Pytester, body: str, mode: str) -> pytest.RunResult:
    pytester.makeini(INI.format(mode=mode))
    pytester.makepyfile(test_user=HEADER + body)
    return pytester.runpytest()


def assert_short(result: pytest.RunResult) -> None:
    """No frame of tiffin's plugin or pytest's internals in what the user reads."""
    output = result.stdout.str()
    assert "tiffin/testing/" not in output and "_pytest/" not in output, output
    assert "UsageError" not in output, output


WRONG_LOOPS = {
    # A module-scoped fixture on its module loop, a test on its function loop.
    "wider fixture": """
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(tiffin_client_factory):
    async with tiffin_client_factory(Recorder) as client:
        yield client

@pytest.mark.asyncio
async def test_it(client):
    assert (await client.get("/v1/hello")).status_code == 200
""",
    # A function-scoped fixture on the function loop, a test on the module loop.
    "wider test": """
@pytest_asyncio.fixture
async def client(tiffin_client_factory):
    async with tiffin_client_factory(Recorder) as client:
        yield client

@pytest.mark.asyncio(loop_scope="module")
async def test_it(client):
    assert (await client.get("/v1/hello")).status_code == 200
""",
}


@pytest.mark.parametrize("mode", ["strict", "auto"])
@pytest.mark.parametrize("case", sorted(WRONG_LOOPS))
def test_the_wrong_loop_message_is_short_and_its_first_fix_works(
    pytester: pytest.Pytester, mode: str, case: str
) -> None:
    body = WRONG_LOOPS[case]
    result = run(pytester, body, mode)
    result.assert_outcomes(errors=1)
    assert_short(result)
    fix = re.search(r"Fix: (@pytest\.mark\.asyncio\([^)]*\)) on the test", result.stdout.str())
    assert fix is not None, result.stdout.str()
    fixed = re.sub(r"@pytest\.mark\.asyncio.*\n(async def test_it)", rf"{fix[1]}\n\1", body)
    assert fixed != body
    run(pytester, fixed, mode).assert_outcomes(passed=1)


def test_a_marker_with_two_services_is_a_short_failure(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.tiffin_service(Recorder, Recorder)
async def test_two(tiffin_client):
    pass
"""
    result = run(pytester, body, "auto")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.tiffin_service takes one service, got*"])
    assert_short(result)


def test_an_unknown_override_is_a_short_failure(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.tiffin_service(Recorder, colour="blue")
async def test_colour(tiffin_client):
    pass
"""
    result = run(pytester, body, "auto")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*service 'Recorder' has no attribute 'colour' to override*"])
    assert_short(result)
