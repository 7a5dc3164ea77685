"""``ServiceClient``: run a service for one test and hand the test an ``httpx.AsyncClient``.

``async with ServiceClient(MyService) as client:`` applies the overrides,
composes a fresh app, runs the whole lifespan (the instance, ``on_startup``
hooks, every mounted app) on the running loop, yields a client, and always
shuts down and restores the overrides, also when the body fails.
``with ServiceClient(MyService) as client:`` is the same for sync code
(``tiffin.testing.sync``); ``transport="live"`` serves it over a socket
(``tiffin.testing.live_session``). The clients are ``tiffin.testing.calls``'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from tiffin.service import Service
from tiffin.testing.calls import TiffinAsyncClient, TiffinClient, api_routes, instance_of
from tiffin.testing.live import LiveServer
from tiffin.testing.live_session import LiveSession
from tiffin.testing.loops import (
    LoopGuard,
    deadline,
    describe_step,
)
from tiffin.testing.overrides import ServiceOverrides
from tiffin.testing.settings import TRANSPORTS, HarnessSettings, Transport
from tiffin.testing.transport import InProcessTransport

DEFAULT_SETTINGS = HarnessSettings()


class ServiceClient:
    """Also takes a BentoML service (``@bentoml.service``): it then makes a
    ``tiffin.testing.bentoml_support.BentoMLServiceClient``, which runs BentoML's own app."""

    def __new__(cls, service: Any, *args: Any, **kwargs: Any) -> ServiceClient:
        if cls is ServiceClient and not isinstance(service, Service):
            # Imported only here: tiffin never imports bentoml unless handed a BentoML service.
            from tiffin.testing import bentoml_support

            if not bentoml_support.is_bentoml_service(service):
                raise TypeError(
                    "tiffin: expected a tiffin service (a class decorated with @tiffin.service) "
                    "or a BentoML service (a class decorated with @bentoml.service), "
                    f"got {type(service).__name__} {service!r}"
                )
            cls = bentoml_support.BentoMLServiceClient
        return super().__new__(cls)

    def __init__(
        self,
        service: Service[Any],
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
        self.service = service
        self.settings = settings
        self.traffic = traffic
        self.streaming = streaming
        self.transport: Transport = transport
        self.base_url = base_url  # None: http://testserver in-process, the server's URL live
        self.raise_server_exceptions = raise_server_exceptions
        self.owner = owner
        self.overrides = self._make_overrides(attributes, dependency_overrides)
        self.app: Any = None
        self.live: LiveServer | None = None
        self._running: Any = None
        self._client: TiffinAsyncClient | None = None
        self._guard: LoopGuard | None = None
        self._live_session: LiveSession | None = None
        self._sync: Any = None

    def _make_overrides(
        self,
        attributes: dict[str, Any],
        dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] | None,
    ) -> ServiceOverrides:
        return ServiceOverrides(self.service, attributes, dependency_overrides)

    def _compose(self) -> Any:
        """A fresh ASGI app of the service, with the traffic overrides."""
        return self.service.to_asgi(traffic=self.traffic)

    @contextmanager
    def live_server(self) -> Iterator[str]:
        """Serve the service (overrides applied) with uvicorn on a free loopback port; its URL."""
        self.overrides.apply()
        try:
            self.live = LiveServer(
                self._compose(),
                startup_timeout=self.settings.startup_timeout,
                shutdown_timeout=self.settings.shutdown_timeout,
            )
            with self.live as url:
                yield url
        finally:
            self.live = None
            self.overrides.restore()

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
        self._host = asyncio.create_task(self._serve(), name=f"tiffin {self.service.name}")
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
        self._guard.check(f"the shutdown of service {self.service.name!r}")
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
        self.overrides.apply()
        try:
            self.app = self._compose()
            await self._start_in_process()
            app = self.app
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
                instance=lambda: instance_of(app),
            )
            self._client = await client.__aenter__()
        except BaseException:
            await self._stop()
            raise
        return self._client

    async def _start_in_process(self) -> None:
        # A startup cut short by the deadline is rolled back by the core (cancel-safe).
        async with deadline(
            self.settings.startup_timeout,
            f"the startup of service {self.service.name!r}",
            describe=lambda task: describe_step(self.app.current_step, task),
            hint="Raise the deadline with --tiffin-startup-timeout or the "
            "tiffin_startup_timeout ini key.",
        ):
            await self.app.startup()
        self._running = self.app

    async def _stop(self) -> None:
        try:
            if self._client is not None:
                client, self._client = self._client, None
                await client.__aexit__(None, None, None)
            await self._stop_in_process()
        finally:
            self.overrides.restore()

    async def _stop_in_process(self) -> None:
        if self._running is not None:
            app, self._running = self._running, None
            async with deadline(
                self.settings.shutdown_timeout,
                f"the shutdown of service {self.service.name!r}",
                describe=lambda task: describe_step(app.current_step, task),
                hint="Raise the deadline with --tiffin-shutdown-timeout.",
            ):
                await app.shutdown()
