"""``ServiceClient``: run a service for one test and hand the test an ``httpx.AsyncClient``.

``async with ServiceClient(MyService) as client:`` applies the overrides,
composes a fresh app, runs the whole lifespan (the instance, ``on_startup``
hooks, every mounted app) on the running loop, yields a client, and always
shuts down and restores the overrides, also when the body fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import httpx

from tiffin.service import Service
from tiffin.testing.live import LiveServer
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
        base_url: str = "http://testserver",
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
        self.base_url = base_url
        self.owner = owner
        self.overrides = self._make_overrides(attributes, dependency_overrides)
        self.app: Any = None
        self.live: LiveServer | None = None
        self._running: Any = None
        self._client: httpx.AsyncClient | None = None
        self._guard: LoopGuard | None = None

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
            with LiveServer(
                self._compose(),
                startup_timeout=self.settings.startup_timeout,
                shutdown_timeout=self.settings.shutdown_timeout,
            ) as url:
                yield url
        finally:
            self.overrides.restore()

    async def __aenter__(self) -> httpx.AsyncClient:
        # The service lives in a task of its own: pytest-asyncio runs a fixture's setup and
        # teardown in two different tasks, and a lifespan must start and stop in one.
        self._guard = LoopGuard(self.owner)
        loop = asyncio.get_running_loop()
        self._ready: asyncio.Future[httpx.AsyncClient] = loop.create_future()
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

    async def _start(self) -> httpx.AsyncClient:
        self.overrides.apply()
        try:
            self.app = self._compose()
            if self.transport == "live":
                self.live = LiveServer(
                    self.app,
                    startup_timeout=self.settings.startup_timeout,
                    shutdown_timeout=self.settings.shutdown_timeout,
                )
                url = await asyncio.to_thread(self.live.start)
                client = httpx.AsyncClient(base_url=url, timeout=self.settings.request_timeout)
            else:
                await self._start_in_process()
                client = httpx.AsyncClient(
                    transport=InProcessTransport(
                        self.app,
                        streaming=self.streaming,
                        request_timeout=self.settings.request_timeout,
                        loop_guard=self._guard,
                    ),
                    base_url=self.base_url,
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
            if self.live is not None:
                live, self.live = self.live, None
                await asyncio.to_thread(live.stop)
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
