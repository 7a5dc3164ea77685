"""A failure's report survives CPython 3.11's AST counter shared between threads."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

CONFTEST = """
import pytest

made = pytest.TestReport.from_item_and_call.__func__
raised = []


@classmethod
def from_item_and_call(cls, item, call):
    # As pytest's own ast.parse of the failing source does, once, while another thread parses.
    if call.when == "call" and call.excinfo is not None and item.name not in raised:
        raised.append(item.name)
        raise SystemError("AST constructor recursion depth mismatch (before=129, after=182)")
    return made(cls, item, call)


pytest.TestReport.from_item_and_call = from_item_and_call
"""

TESTS = """
import pytest


@pytest.mark.xfail(reason="a declared difference", strict=True)
def test_declared():
    assert 1 == 2


def test_fails():
    assert 1 == 2


def test_passes():
    pass
"""


def test_the_report_is_made_again_and_the_run_goes_on(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, xfailed=1)
    assert "INTERNALERROR" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*assert 1 == 2*"])


def test_another_system_error_is_not_hidden(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.replace("AST constructor recursion depth", "something else"))
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert "INTERNALERROR" in result.stdout.str()
