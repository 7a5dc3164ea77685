"""The pytest plugin (entry point ``tiffin``): options, markers and fixtures.

Fixtures:
- ``tiffin_client_factory``: ``async with tiffin_client_factory(MyService, **overrides) as c``.
- ``tiffin_client``: a client for ``@pytest.mark.tiffin_service(MyService, **overrides)`` or
  for the service an overridden ``tiffin_service`` fixture returns.
- ``tiffin_sync_client``: the same for ``def`` tests, an ``httpx.Client``.
- ``tiffin_live_server``: that service served by uvicorn on a free loopback port; its URL.
  ``--tiffin-live-scope=module|session`` (ini key, marker ``live_scope=``) shares one live
  server per service and options (``tiffin.testing.shared_live``).
- ``tiffin_bentoml_serve``: ``tiffin_bentoml_serve(BentoSvc)`` is the URL of a real
  ``bentoml serve`` of a BentoML service (one per session).
- ``tiffin_ray``: a local Ray cluster for the session (``tiffin.testing.ray``, tiffin[ray]);
  ``with tiffin_ray.deploy("service.py:MyService", replicas=2) as url:``.

Every fixture that takes a service takes a BentoML one (``@bentoml.service``) too,
and runs BentoML's own app (``tiffin.testing.bentoml``).
- ``tiffin_transport``: ``"inprocess"`` or ``"live"`` (option, ini key, marker, or parametrize).

``tiffin_client`` is set up on the event loop the test runs on: pytest-asyncio
(strict or auto, any loop scope) or anyio (asyncio backend).

The plugin loads with tiffin alone (as an entry point, it loads in every pytest run of
an environment holding tiffin); the fixtures that run a service need httpx, from the
test extra, and say so when it is missing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import pytest

import tiffin
from tiffin.compat import pytest as pytest_compat
from tiffin.compat import pytest_asyncio as asyncio_compat
from tiffin.extras import is_missing_test_extra, missing_test_extra
from tiffin.service import Service
from tiffin.testing.event_loops import (
    check_anyio_backend,
    check_fixture_loop,
    is_async,
    is_asyncio_test,
    loop_scope_of_test,
    unmarked,
)
from tiffin.testing.settings import LIVE_SCOPES, TRANSPORTS, HarnessSettings
from tiffin.testing.shared_live import SharedLiveServers

if TYPE_CHECKING:
    from tiffin.testing.calls import TiffinAsyncClient, TiffinClient
    from tiffin.testing.factory import ServiceClient
    from tiffin.testing.ray import LocalRay

_CLIENT_FIXTURES = ("tiffin_client", "tiffin_client_factory")

_FLOAT_KEYS = ("startup_timeout", "shutdown_timeout", "request_timeout")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tiffin", "tiffin service harness")
    group.addoption(
        "--tiffin-transport",
        choices=TRANSPORTS,
        default=None,
        help="run tiffin_client over 'inprocess' (default) or a 'live' uvicorn server",
    )
    parser.addini("tiffin_transport", "default transport of tiffin_client", default="inprocess")
    group.addoption(
        "--tiffin-live-scope",
        choices=LIVE_SCOPES,
        default=None,
        help="share a live server per 'module' or 'session' instead of one per test "
        "('function', default)",
    )
    parser.addini("tiffin_live_scope", "function (default), module or session")
    defaults = HarnessSettings()
    for key in _FLOAT_KEYS:
        group.addoption(
            f"--tiffin-{key.replace('_', '-')}",
            type=float,
            default=None,
            help=f"seconds; default {getattr(defaults, key):g}",
        )
        parser.addini(f"tiffin_{key}", f"seconds (default {getattr(defaults, key):g})")
    parser.addini(
        "tiffin_conformance_grid",
        "folder the conformance checks write GRID.md/GRID.json to (default: conformance-grid)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "tiffin_service(service, **overrides): the service tiffin_client and tiffin_live_server "
        "run; overrides set class attributes, traffic=, dependency_overrides=, streaming=, "
        "transport=, base_url=, raise_server_exceptions=, live_scope=",
    )
    config.stash[_SETTINGS] = _read_settings(config)
    config.stash[_SHARED] = SharedLiveServers()
    try:
        from tiffin.conformance.pytest_support import ConformanceRecorder, ReportRetry
    except ModuleNotFoundError as exc:
        if not is_missing_test_extra(exc):
            raise
        return  # no check runs without httpx either: there is nothing to record
    config.pluginmanager.register(ConformanceRecorder(config), "tiffin-conformance")
    config.pluginmanager.register(ReportRetry(), "tiffin-report-retry")


_SETTINGS = pytest.StashKey[HarnessSettings]()
_SHARED = pytest.StashKey[SharedLiveServers]()


def _read_settings(config: pytest.Config) -> HarnessSettings:
    transport = config.getoption("tiffin_transport") or config.getini("tiffin_transport")
    if transport not in TRANSPORTS:
        raise pytest.UsageError(
            f"tiffin_transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}"
        )
    values: dict[str, Any] = {"transport": transport}
    live_scope = config.getoption("tiffin_live_scope") or config.getini("tiffin_live_scope")
    if live_scope:
        if live_scope not in LIVE_SCOPES:
            raise pytest.UsageError(
                f"tiffin_live_scope must be one of {', '.join(LIVE_SCOPES)}, got {live_scope!r}"
            )
        values["live_scope"] = live_scope
    for key in _FLOAT_KEYS:
        raw = config.getoption(f"tiffin_{key}")
        if raw is None and config.getini(f"tiffin_{key}"):
            try:
                raw = float(config.getini(f"tiffin_{key}"))
            except ValueError:
                raise pytest.UsageError(
                    f"tiffin_{key} must be a number of seconds, "
                    f"got {config.getini(f'tiffin_{key}')!r}"
                ) from None
        if raw is not None:
            values[key] = raw
    return HarnessSettings(**values)


def pytest_report_header(config: pytest.Config) -> str:
    settings = config.stash[_SETTINGS]
    plugins = []
    if config.pluginmanager.has_plugin("asyncio"):
        mode = config.getoption("asyncio_mode", None) or config.getini("asyncio_mode")
        plugins.append(f"pytest-asyncio {_version('pytest-asyncio')} (mode={mode})")
    if config.pluginmanager.has_plugin("anyio"):
        plugins.append(f"anyio {_version('anyio')}")
    return (
        f"tiffin: {tiffin.__version__}, async plugins: {', '.join(plugins) or 'none'}, "
        f"transport: {settings.transport}"
    )


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "?"


# --- fixtures ---------------------------------------------------------------------------


@contextmanager
def _needs_httpx(fixture: str) -> Iterator[None]:
    """Around a fixture's import of the harness: without the test extra, fail saying so."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if not is_missing_test_extra(exc):
            raise
        message = f"tiffin: {missing_test_extra(f'fixture {fixture!r}', exc)}"
        raise pytest.fail.Exception(message, pytrace=False) from None  # the message alone


@pytest.fixture(scope="session")
def tiffin_client_factory(pytestconfig: pytest.Config) -> Callable[..., ServiceClient]:
    """``async with tiffin_client_factory(MyService, **overrides) as client:`` on any loop."""
    with _needs_httpx("tiffin_client_factory"):
        from tiffin.testing.factory import ServiceClient
    settings = pytestconfig.stash[_SETTINGS]

    def factory(service: Service[Any], /, **overrides: Any) -> ServiceClient:
        owner = overrides.pop("owner", None)
        if owner is None:
            owner = f"the tiffin_client_factory client of {getattr(service, 'name', service)!r}"
        return ServiceClient(service, settings=settings, owner=owner, **overrides)

    return factory


def _marker_args(request: pytest.FixtureRequest) -> tuple[Service[Any] | None, dict[str, Any]]:
    marker = request.node.get_closest_marker("tiffin_service")
    if marker is None:
        return None, {}
    if len(marker.args) != 1:
        pytest.fail(
            f"{request.node.nodeid}: @pytest.mark.tiffin_service takes one service, "
            f"got {marker.args!r}",
            pytrace=False,
        )
    return marker.args[0], dict(marker.kwargs)


@pytest.fixture
def tiffin_service(request: pytest.FixtureRequest) -> Service[Any]:
    """The service under test: from ``@pytest.mark.tiffin_service``; override to choose one."""
    service, _ = _marker_args(request)
    if service is None:
        pytest.fail(
            f"{request.node.nodeid} uses tiffin_client without a service: mark it "
            "@pytest.mark.tiffin_service(MyService) or override the tiffin_service fixture",
            pytrace=False,
        )
    return service


def _service_under_test(request: pytest.FixtureRequest, fixture_service: Any) -> Any:
    """The marker's service when the test names one (the closest choice wins), else the
    ``tiffin_service`` fixture's, which a conftest may override for many tests."""
    marked, _ = _marker_args(request)
    return fixture_service if marked is None else marked


@pytest.fixture
def tiffin_transport(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> str:
    """``"inprocess"`` or ``"live"``; ``@pytest.mark.parametrize("tiffin_transport", ...)``."""
    _, overrides = _marker_args(request)
    transport = overrides.get("transport") or pytestconfig.stash[_SETTINGS].transport
    return str(transport)


def _overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    _, overrides = _marker_args(request)
    overrides.pop("transport", None)
    overrides.pop("live_scope", None)
    return overrides


def _live_scope(request: pytest.FixtureRequest, transport: str) -> str:
    """The scope of the live server for this test ("function" when it runs in-process)."""
    if transport != "live":
        return "function"
    _, overrides = _marker_args(request)
    scope = overrides.get("live_scope") or request.config.stash[_SETTINGS].live_scope
    if scope not in LIVE_SCOPES:
        pytest.fail(
            f"{request.node.nodeid}: live_scope must be one of {', '.join(LIVE_SCOPES)}, "
            f"got {scope!r}",
            pytrace=False,
        )
    return str(scope)


def _shared_session(request: pytest.FixtureRequest, fixture: str, service: Any, scope: str) -> Any:
    with _needs_httpx(fixture):
        from tiffin.testing.factory import ServiceClient
    settings = request.config.stash[_SETTINGS]
    overrides = _overrides(request)

    def make_harness() -> ServiceClient:
        server_options = {k: v for k, v in overrides.items() if k != "base_url"}
        return ServiceClient(service, settings=settings, transport="live", **server_options)

    with _startup_failure():
        return request.config.stash[_SHARED].get(request, scope, make_harness, service, overrides)


def _client_options(overrides: dict[str, Any]) -> dict[str, Any]:
    """The marker's options a client to a shared live server takes."""
    return {
        "base_url": overrides.get("base_url"),
        "raise_server_exceptions": overrides.get("raise_server_exceptions"),
    }


@contextmanager
def _startup_failure() -> Iterator[None]:
    """A service that fails to start: a short failure with the cause, not the harness's frames."""
    from tiffin.testing.failures import HARNESS_ERRORS, short_failure

    failure = None
    try:
        yield
    except HARNESS_ERRORS as exc:
        failure = short_failure(exc)
    if failure is not None:
        # the cause and the user's frames, not the harness's
        raise pytest.fail.Exception(failure, pytrace=False) from None


async def tiffin_client_fixture(
    request: pytest.FixtureRequest,
    tiffin_client_factory: Callable[..., ServiceClient],
    tiffin_service: Service[Any],
    tiffin_transport: str,
) -> AsyncIterator[TiffinAsyncClient]:
    tiffin_service = _service_under_test(request, tiffin_service)
    overrides = _overrides(request)
    scope = _live_scope(request, tiffin_transport)
    if scope != "function":
        session = _shared_session(request, "tiffin_client", tiffin_service, scope)
        client_options = _client_options(overrides)
        async with session.async_client(**client_options) as shared_client:
            yield shared_client
        return
    overrides.setdefault("owner", "fixture 'tiffin_client'")
    with _startup_failure():
        harness = tiffin_client_factory(tiffin_service, transport=tiffin_transport, **overrides)
        client = await harness.__aenter__()
    try:
        yield client
    finally:
        await harness.__aexit__(None, None, None)


# Marked for pytest-asyncio so strict mode accepts it; pytest_fixture_setup below gives it
# the loop scope of the test that requests it (or hands it to anyio, under anyio).
asyncio_compat.mark_asyncio_fixture(tiffin_client_fixture)
tiffin_client = pytest.fixture(name="tiffin_client")(tiffin_client_fixture)


@pytest.fixture
def tiffin_sync_client(
    request: pytest.FixtureRequest,
    tiffin_client_factory: Callable[..., ServiceClient],
    tiffin_service: Service[Any],
    tiffin_transport: str,
) -> Iterator[TiffinClient]:
    """``tiffin_client`` for ``def`` tests: an ``httpx.Client`` (``tiffin.testing.TiffinClient``).

    In-process, the service runs on an event loop in a thread of its own; live, the
    client talks to the server's socket. Same marker, options and deadlines.
    """
    tiffin_service = _service_under_test(request, tiffin_service)
    overrides = _overrides(request)
    scope = _live_scope(request, tiffin_transport)
    if scope != "function":
        session = _shared_session(request, "tiffin_sync_client", tiffin_service, scope)
        with session.sync_client(**_client_options(overrides)) as shared_client:
            yield shared_client
        return
    overrides.setdefault("owner", "fixture 'tiffin_sync_client'")
    with _startup_failure():
        harness = tiffin_client_factory(tiffin_service, transport=tiffin_transport, **overrides)
        client = harness.__enter__()
    try:
        yield client
    finally:
        harness.__exit__(None, None, None)


@pytest.fixture
def tiffin_live_server(
    request: pytest.FixtureRequest, tiffin_service: Service[Any], pytestconfig: pytest.Config
) -> Iterator[str]:
    """The service served by uvicorn on ``127.0.0.1:<free port>``; the base URL."""
    tiffin_service = _service_under_test(request, tiffin_service)
    scope = _live_scope(request, "live")
    if scope != "function":
        live = _shared_session(request, "tiffin_live_server", tiffin_service, scope).live
        assert live is not None
        yield live.url
        return
    with _needs_httpx("tiffin_live_server"):
        from tiffin.testing.factory import ServiceClient
    settings = pytestconfig.stash[_SETTINGS]
    with _startup_failure():
        harness = ServiceClient(tiffin_service, settings=settings, **_overrides(request))
    with _startup_failure(), harness.live_server() as url:
        yield url


@pytest.fixture(scope="session")
def tiffin_bentoml_serve(pytestconfig: pytest.Config) -> Iterator[Callable[..., str]]:
    """``tiffin_bentoml_serve(MyBentoService)``: the URL of a real ``bentoml serve`` of it.

    One subprocess per service for the whole session, started on first use (ready when
    ``/readyz`` answers) and stopped with SIGTERM at the end. Startup may take at least 60 s.
    """
    with _needs_httpx("tiffin_bentoml_serve"):
        from tiffin.testing.bentoml import BentoMLServers
    settings = pytestconfig.stash[_SETTINGS]
    servers = BentoMLServers(
        startup_timeout=max(settings.startup_timeout, 60.0),
        shutdown_timeout=max(settings.shutdown_timeout, 30.0),
    )
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture(scope="session")
def tiffin_ray() -> Iterator[LocalRay]:
    """A local Ray cluster (2 CPUs, Serve's proxy on 127.0.0.1) for the session; its
    ``deploy(target, **options)`` serves a service on it (``tiffin.testing.ray``; tiffin[ray])."""
    from tiffin.testing.ray import session_cluster

    yield from session_cluster()


# --- event loops ------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    """Run async fixtures that use tiffin on the test's own loop, or fail at once saying why."""
    __tracebackhide__ = True
    item = pytest_compat.requesting_test(request)  # the test, also for wider fixtures
    func = pytest_compat.fixture_function(fixturedef)
    if not isinstance(item, pytest.Function) or not is_async(func):
        return (yield)
    if "anyio_backend" in item.fixturenames:
        if fixturedef.argname == "tiffin_client":
            check_anyio_backend(request, item)
            return (yield from pytest_compat.with_fixture_function(fixturedef, unmarked(func)))
        return (yield)
    if fixturedef.argname == "tiffin_client":
        if not is_async(getattr(item, "obj", None)) and not is_asyncio_test(item):
            pytest.fail(
                f"{item.nodeid}: tiffin_client is an httpx.AsyncClient, for async tests "
                "(pytest-asyncio or anyio); in a def test use tiffin_sync_client, "
                "an httpx.Client with the same marker and options",
                pytrace=False,
            )
        marked = unmarked(func)
        asyncio_compat.mark_asyncio_fixture(marked, loop_scope_of_test(item))
        return (yield from pytest_compat.with_fixture_function(fixturedef, marked))
    if is_asyncio_test(item) and set(fixturedef.argnames) & set(_CLIENT_FIXTURES):
        check_fixture_loop(fixturedef, request, item)
    return (yield)
