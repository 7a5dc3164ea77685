"""Which event loop a tiffin fixture runs on, and the one-line failures when it cannot.

The plugin's ``pytest_fixture_setup`` hook gives ``tiffin_client`` the loop scope of
the test that requests it (pytest-asyncio), hands it to anyio under anyio, and fails
at once, naming the fix, where a service would be used from another loop.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

from tiffin.compat import pytest as pytest_compat
from tiffin.compat import pytest_asyncio as asyncio_compat

if TYPE_CHECKING:
    from tiffin.testing.calls import TiffinAsyncClient


def check_anyio_backend(request: pytest.FixtureRequest, item: pytest.Item) -> None:
    """Under trio, only the live transport works: say so in one line, before any setup."""
    backend = request.getfixturevalue("anyio_backend")
    name = backend[0] if isinstance(backend, tuple) else backend
    if name == "asyncio":
        return
    transport = request.getfixturevalue("tiffin_transport")
    if transport != "live":
        pytest.fail(
            f"{item.nodeid}: tiffin_client runs the service in-process on asyncio, and this "
            f"test runs on {name}; under {name} use the live transport "
            '(@pytest.mark.tiffin_service(..., transport="live") or --tiffin-transport=live) '
            "or tiffin_sync_client",
            pytrace=False,
        )


def unmarked(func: Any) -> Any:
    """A fresh copy of the fixture function, to carry this test's loop marks."""

    async def tiffin_client(**kwargs: Any) -> AsyncIterator[TiffinAsyncClient]:
        async for client in func(**kwargs):
            yield client

    return tiffin_client


def is_async(func: Any) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)


def is_asyncio_test(item: pytest.Item) -> bool:
    return item.get_closest_marker("asyncio") is not None


def loop_scope_of_test(item: pytest.Item) -> str:
    marker = item.get_closest_marker("asyncio")
    if marker is not None:
        scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
        if scope:
            return str(scope)
    try:
        default = item.config.getini("asyncio_defaultloop_scope_of_test")
    except ValueError:
        default = None
    return str(default or "function")


def check_fixture_loop(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest, item: pytest.Item
) -> None:
    """An async fixture using tiffin on another loop than the test would hang: fail now."""
    try:
        default = request.config.getini("asyncio_default_fixture_loop_scope")
    except ValueError:
        default = None
    if default == "fixture":
        default = None
    fixture_scope = str(
        asyncio_compat.fixture_loop_scope(pytest_compat.fixture_function(fixturedef))
        or default
        or fixturedef.scope
    )
    test_scope = loop_scope_of_test(item)
    if fixture_scope == test_scope:
        return
    # The test can always join the fixture's loop; the fixture can join the test's only
    # when that loop lives at least as long as the fixture (else pytest-asyncio refuses).
    fixes = [f"@pytest.mark.asyncio(loop_scope={fixture_scope!r}) on the test"]
    if _SCOPES.index(fixturedef.scope) <= _SCOPES.index(test_scope):
        fixes.append(
            f"@pytest_asyncio.fixture(scope={fixturedef.scope!r}, loop_scope={test_scope!r}) "
            "on the fixture"
        )
    pytest.fail(
        f"tiffin: fixture {fixturedef.argname!r} runs on the {fixture_scope!r}-scoped event "
        f"loop, but test {item.nodeid!r} runs on the {test_scope!r}-scoped loop; the service "
        "it starts would be used from another loop (a silent hang). Fix: "
        + ", or ".join(fixes)
        + ".",
        pytrace=False,
    )


_SCOPES = ("function", "class", "module", "package", "session")
