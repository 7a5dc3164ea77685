"""``ServiceClient``: run a service for one test and hand the test an ``httpx.AsyncClient``.

``async with ServiceClient(MyService) as client:`` composes a fresh app of the
service with the test's overrides (applied to that app alone), starts it (the
instance, ``on_startup`` hooks, every mounted app) on the running loop, yields a
client, and always stops it, also when the body fails. What runs the service is
chosen by ``backends.backend_for``: a tiffin or a BentoML service.
``with ServiceClient(MyService) as client:`` is the same for sync code
(``tiffin.testing.sync``); ``transport="live"`` serves it over a socket
(``tiffin.testing.live_session``). The clients are ``tiffin.testing.calls``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from tiffin.testing.backends import Backend, backend_for
from tiffin.testing.calls import TiffinAsyncClient, TiffinClient, api_routes, instance_of
from tiffin.testing.live import LiveServer
from tiffin.testing.live_session import LiveSession
from tiffin.testing.loops import LoopGuard
from tiffin.testing.settings import TRANSPORTS, HarnessSettings, Transport
from tiffin.testing.transport import InProcessTransport

DEFAULT_SETTINGS = HarnessSettings()


class ServiceClient:
    """Runs a tiffin service (``@tiffin.service``) or a BentoML one (``@bentoml.service``).

    Keyword arguments beyond the options set class attributes of the service for
    this run only (``greeting="Hi"``); ``dependency_overrides`` reach the mounted
    FastAPI apps for this run's requests only.
    """

    def __init__(
        self,
        service: Any,
        *,
        settings: HarnessSettings = DEFAULT_SETTINGS,
        traffic: dict[str, Any] | None = None,
        dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] | None = None,
        streaming: bool = False,
        transport: Transport | None = None,
        base_url: str | None = None,
        raise_server_exceptions: bool = True,
        owner: str = "tiffin_client_factory",
        **attributes: Any,
    ) -> None:
        transport = transport or settings.transport
        if transport not in TRANSPORTS:
            raise ValueError(f"tiffin: transport must be one of {TRANSPORTS}, got {transport!r}")
        self.backend: Backend = backend_for(
            service,
            traffic=traffic,
            attributes=attributes,
            dependency_overrides=dependency_overrides,
        )
        self.service = service
        self.settings = settings
        self.streaming = streaming
        self.transport: Transport = transport
        self.base_url = base_url  # None: http://testserver in-process, the server's URL live
        self.raise_server_exceptions = raise_server_exceptions
        self.owner = owner
        self.live: LiveServer | None = None
        self._process: contextlib.ExitStack | None = None
        self._client: TiffinAsyncClient | None = None
        self._guard: LoopGuard | None = None
        self._live_session: LiveSession | None = None
        self._sync: Any = None

    @contextlib.contextmanager
    def live_server(self) -> Iterator[str]:
        """Serve the service (overrides applied) with uvicorn on a free loopback port; its URL."""
        with self.backend.process_state():
            self.live = LiveServer(
                self.backend.compose("live"),
                startup_timeout=self.settings.startup_timeout,
                shutdown_timeout=self.settings.shutdown_timeout,
                composed=getattr(self.backend, "app", None),
            )
            try:
                with self.live as url:
                    yield url
            finally:
                self.live = None

    def __enter__(self) -> TiffinClient:
        from tiffin.testing.sync import SyncSession

        session = self._sync = SyncSession(self)
        return session.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        sync, self._sync = self._sync, None
        assert sync is not None, "__exit__ without __enter__"
        sync.stop()

    async def __aenter__(self) -> TiffinAsyncClient:
        if self.transport == "live":  # no event loop of the test's is involved: trio too
            self._live_session = await LiveSession(self).astart()
            self._client = self._live_session.async_client(self.base_url)
            return await self._client.__aenter__()
        # The service lives in a task of its own: pytest-asyncio runs a fixture's setup and
        # teardown in two different tasks, and a lifespan must start and stop in one.
        self._guard = LoopGuard(self.owner)
        loop = asyncio.get_running_loop()
        self._ready: asyncio.Future[TiffinAsyncClient] = loop.create_future()
        self._stop_requested = asyncio.Event()
        self._host = asyncio.create_task(self._serve(), name=f"tiffin {self.backend.what}")
        try:
            return await asyncio.shield(self._ready)
        except asyncio.CancelledError:
            self._host.cancel()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live_session is not None:
            session, self._live_session = self._live_session, None
            try:
                if self._client is not None:
                    client, self._client = self._client, None
                    await client.__aexit__(None, None, None)  # first: the server finds idle
            finally:
                await session.astop()
            return
        assert self._guard is not None, "__aexit__ without __aenter__"
        self._guard.check(f"the shutdown of {self.backend.what}")
        # The body's exception stays with the caller: shutdown runs the same either way.
        self._stop_requested.set()
        await self._host

    async def _serve(self) -> None:
        try:
            client = await self._start()
        except asyncio.CancelledError:
            self._ready.cancel()
            return
        except BaseException as exc:
            self._ready.set_exception(exc)
            return
        self._ready.set_result(client)
        await self._stop_requested.wait()
        await self._stop()

    async def _start(self) -> TiffinAsyncClient:
        self._process = contextlib.ExitStack()
        try:
            self._process.enter_context(self.backend.process_state())
            app = self.backend.compose(self.transport)
            composed = getattr(self.backend, "app", app)  # the ComposedApp the wrapper serves
            await self.backend.start(self.settings)
            client = TiffinAsyncClient(
                transport=InProcessTransport(
                    app,
                    streaming=self.streaming,
                    request_timeout=self.settings.request_timeout,
                    loop_guard=self._guard,
                    raise_server_exceptions=self.raise_server_exceptions,
                ),
                base_url=self.base_url or "http://testserver",
                service_name=getattr(self.service, "name", repr(self.service)),
                routes=api_routes(self.service),
                instance=lambda: instance_of(composed),
            )
            self._client = await client.__aenter__()
        except BaseException:
            await self._stop()
            raise
        return self._client

    async def _stop(self) -> None:
        try:
            if self._client is not None:
                client, self._client = self._client, None
                await client.__aexit__(None, None, None)
            await self.backend.stop(self.settings)
        finally:
            if self._process is not None:
                process, self._process = self._process, None
                process.close()
