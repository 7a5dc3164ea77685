"""The test extra: which of its modules tiffin imports, and the error when one is missing.

A plain ``pip install tiffin`` serves services. The test harness, its pytest fixtures and
the conformance checks talk to services with httpx, which comes with ``tiffin[test]``.
"""

from __future__ import annotations

# The modules of the test extra (pyproject.toml) that tiffin's own code imports.
TEST_EXTRA_MODULES = frozenset({"httpx", "httpx_ws"})
INSTALL_TEST_EXTRA = 'pip install "tiffin[test]"'


def is_missing_test_extra(exc: ModuleNotFoundError) -> bool:
    """Whether ``exc`` says a module of the test extra is not installed."""
    return (exc.name or "").partition(".")[0] in TEST_EXTRA_MODULES


def missing_test_extra(what: str, exc: ModuleNotFoundError) -> str:
    """``what`` needs the module ``exc`` names: which, and how to install it."""
    return (
        f"{what} needs {exc.name!r}, which is not installed: it comes with tiffin's test "
        f"extra. Fix: {INSTALL_TEST_EXTRA}"
    )
