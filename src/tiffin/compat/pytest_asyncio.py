"""pytest-asyncio's private fixture marks, the one place tiffin touches them.

Checked against pytest-asyncio 1.4.0 (the floor in pyproject.toml) and 1.5.0 (the
latest installed): ``@pytest_asyncio.fixture(loop_scope=...)`` sets
``_force_asyncio_fixture`` and ``_loop_scope`` on the fixture function, and the
plugin reads them back when it sets the fixture up. tiffin sets them on a fresh
copy of its ``tiffin_client`` fixture function at setup time, because the loop
scope it must run on is the requesting test's, known only then; pytest-asyncio has
no public way to say so. A break here shows as tiffin_client set up on the wrong
loop (tests/testing/test_plugin.py covers strict and auto modes and loop scopes).
"""

from __future__ import annotations

from typing import Any


def mark_asyncio_fixture(func: Any, loop_scope: str | None = None) -> None:
    """Make pytest-asyncio run ``func`` (also in strict mode), on ``loop_scope``'s loop."""
    func._force_asyncio_fixture = True
    if loop_scope is not None:
        func._loop_scope = loop_scope


def fixture_loop_scope(func: Any) -> str | None:
    """The loop scope ``@pytest_asyncio.fixture(loop_scope=...)`` gave ``func``, if any."""
    scope = getattr(func, "_loop_scope", None)
    return str(scope) if scope else None
