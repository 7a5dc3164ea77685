"""The plugin's event-loop hook: tiffin's async fixtures run on the test's own loop.

``tiffin_client`` is set up on the loop the test runs on (pytest-asyncio, strict
or auto, any loop scope; or anyio), and a misplaced fixture or test fails at once
with a short message saying why and what to write instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from typing import TYPE_CHECKING, Any

import pytest

from tiffin.testing import loops

if TYPE_CHECKING:
    from tiffin.testing.calls import TiffinAsyncClient

_CLIENT_FIXTURES = ("tiffin_client", "tiffin_client_factory")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    """Run async fixtures that use tiffin on the test's own loop, or fail at once saying why."""
    item = getattr(request, "_pyfuncitem", request.node)  # the test, also for wider fixtures
    if not isinstance(item, pytest.Function) or not _is_async(fixturedef.func):
        return (yield)
    if "anyio_backend" in item.fixturenames:
        if fixturedef.argname == "tiffin_client":
            _check_anyio_backend(request, item)
            return (yield from _with_func(fixturedef, _unmarked(fixturedef.func)))
        return (yield)
    if fixturedef.argname == "tiffin_client":
        if not _is_async(getattr(item, "obj", None)) and not _is_asyncio_test(item):
            pytest.fail(
                f"{item.nodeid}: tiffin_client is an httpx.AsyncClient, for async tests "
                "(pytest-asyncio or anyio); in a def test use tiffin_sync_client, "
                "an httpx.Client with the same marker and options",
                pytrace=False,
            )
        marked = _unmarked(fixturedef.func)
        marked._force_asyncio_fixture = True
        marked._loop_scope = _test_loop_scope(item)
        return (yield from _with_func(fixturedef, marked))
    if _is_asyncio_test(item) and set(fixturedef.argnames) & set(_CLIENT_FIXTURES):
        _check_fixture_loop(fixturedef, request, item)
    return (yield)


def _check_anyio_backend(request: pytest.FixtureRequest, item: pytest.Item) -> None:
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


def _with_func(fixturedef: pytest.FixtureDef[Any], func: Any) -> Generator[None, Any, Any]:
    # pytest-asyncio and anyio swap FixtureDef.func the same way; pytest marks it Final.
    original = fixturedef.func
    fixturedef.func = func  # type: ignore[misc]
    try:
        return (yield)
    finally:
        fixturedef.func = original  # type: ignore[misc]


def _unmarked(func: Any) -> Any:
    """A fresh copy of the fixture function, to carry this test's loop marks."""

    async def tiffin_client(**kwargs: Any) -> AsyncIterator[TiffinAsyncClient]:
        async for client in func(**kwargs):
            yield client

    return tiffin_client


def _is_async(func: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)


def _is_asyncio_test(item: pytest.Item) -> bool:
    return item.get_closest_marker("asyncio") is not None


def _test_loop_scope(item: pytest.Item) -> str:
    marker = item.get_closest_marker("asyncio")
    if marker is not None:
        scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
        if scope:
            return str(scope)
    try:
        default = item.config.getini("asyncio_default_test_loop_scope")
    except ValueError:
        default = None
    return str(default or "function")


def _check_fixture_loop(
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
        getattr(fixturedef.func, "_loop_scope", None) or default or fixturedef.scope
    )
    test_scope = _test_loop_scope(item)
    if fixture_scope == test_scope:
        return
    raise loops.WrongEventLoop(
        f"tiffin: fixture {fixturedef.argname!r} runs on the {fixture_scope!r}-scoped event "
        f"loop, but test {item.nodeid!r} runs on the {test_scope!r}-scoped loop; the service "
        "it starts would be used from another loop (a silent hang). Fix: give both one loop "
        f"scope: @pytest_asyncio.fixture(loop_scope={test_scope!r}) on the fixture, or "
        f"@pytest.mark.asyncio(loop_scope={fixture_scope!r}) on the test."
    )
