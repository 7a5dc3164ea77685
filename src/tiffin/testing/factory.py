"""``ServiceClient``: run a service for one test and hand the test an ``httpx.AsyncClient``.

``async with ServiceClient(MyService) as client:`` composes a fresh app of the
service with the test's overrides (applied to that app alone), starts it (the
instance, ``on_startup`` hooks, every mounted app) on the running loop, yields a
client, and always stops it, also when the body fails. What runs the service is
chosen by ``backends.backend_for``: a tiffin or a BentoML service.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import httpx

from tiffin.testing.backends import Backend, backend_for
from tiffin.testing.live import LiveServer
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
        base_url: str = "http://testserver",
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
        self.base_url = base_url
        self.owner = owner
        self.live: LiveServer | None = None
        self._process: contextlib.ExitStack | None = None
        self._client: httpx.AsyncClient | None = None
        self._guard: LoopGuard | None = None

    @contextlib.contextmanager
    def live_server(self) -> Iterator[str]:
        """Serve the service (overrides applied) with uvicorn on a free loopback port; its URL."""
        with (
            self.backend.process_state(),
            LiveServer(
                self.backend.compose("live"),
                startup_timeout=self.settings.startup_timeout,
                shutdown_timeout=self.settings.shutdown_timeout,
            ) as url,
        ):
            yield url

    async def __aenter__(self) -> httpx.AsyncClient:
        # The service lives in a task of its own: pytest-asyncio runs a fixture's setup and
        # teardown in two different tasks, and a lifespan must start and stop in one.
        self._guard = LoopGuard(self.owner)
        loop = asyncio.get_running_loop()
        self._ready: asyncio.Future[httpx.AsyncClient] = loop.create_future()
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

    async def _start(self) -> httpx.AsyncClient:
        self._process = contextlib.ExitStack()
        try:
            self._process.enter_context(self.backend.process_state())
            app = self.backend.compose(self.transport)
            if self.transport == "live":
                self.live = LiveServer(
                    app,
                    startup_timeout=self.settings.startup_timeout,
                    shutdown_timeout=self.settings.shutdown_timeout,
                )
                url = await asyncio.to_thread(self.live.start)
                client = httpx.AsyncClient(base_url=url, timeout=self.settings.request_timeout)
            else:
                await self.backend.start(self.settings)
                client = httpx.AsyncClient(
                    transport=InProcessTransport(
                        app,
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

    async def _stop(self) -> None:
        try:
            if self._client is not None:
                client, self._client = self._client, None
                await client.__aexit__(None, None, None)
            await self.backend.stop(self.settings)
            if self.live is not None:
                live, self.live = self.live, None
                await asyncio.to_thread(live.stop)
        finally:
            if self._process is not None:
                process, self._process = self._process, None
                process.close()
