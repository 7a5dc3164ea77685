"""A service served live for as long as a session is open, and the clients that talk to it.

``ServiceClient(..., transport="live")`` opens one for a test; the plugin keeps
one open for a module or the whole session (``live_scope``), and hands each test
a fresh client to it. Nothing here touches an event loop of the test's: the
server runs in a thread of its own, so the async client works under asyncio and
trio alike, and the sync client under none.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from tiffin.testing.calls import TiffinAsyncClient, TiffinClient, api_routes, instance_of
from tiffin.testing.live import LiveServer
from tiffin.testing.live_transport import LiveAsyncTransport, LiveSyncTransport

if TYPE_CHECKING:
    from tiffin.testing.factory import ServiceClient


class LiveSession:
    """``harness.live_server()`` kept open; ``async_client()`` / ``sync_client()`` to it."""

    def __init__(self, harness: ServiceClient) -> None:
        self.harness = harness
        self._exit = contextlib.ExitStack()
        self.live: LiveServer | None = None

    def start(self) -> LiveSession:
        with contextlib.ExitStack() as stack:
            stack.enter_context(self.harness.live_server())
            live = self.harness.live
            assert live is not None, "live_server() sets harness.live"
            self.live = live
            self._exit = stack.pop_all()
        return self

    def stop(self) -> None:
        self.live = None
        self._exit.close()

    async def astart(self) -> LiveSession:
        return await anyio.to_thread.run_sync(self.start)

    async def astop(self) -> None:
        await anyio.to_thread.run_sync(self.stop)

    def _options(self, base_url: str | None) -> dict[str, Any]:
        live = self.live
        assert live is not None, "the live session is not started"
        service = self.harness.service
        return {
            "service_name": getattr(service, "name", repr(service)),
            "routes": api_routes(service),
            "instance": lambda: instance_of(live.composed),
            "base_url": base_url or live.url,
            "timeout": self.harness.settings.request_timeout,
        }

    def _raise(self, raise_server_exceptions: bool | None) -> bool:
        if raise_server_exceptions is None:
            return bool(getattr(self.harness, "raise_server_exceptions", True))
        return raise_server_exceptions

    def async_client(
        self, base_url: str | None = None, raise_server_exceptions: bool | None = None
    ) -> TiffinAsyncClient:
        assert self.live is not None, "the live session is not started"
        transport = LiveAsyncTransport(
            self.live,
            request_timeout=self.harness.settings.request_timeout,
            streaming=self.harness.streaming,
            raise_server_exceptions=self._raise(raise_server_exceptions),
        )
        return TiffinAsyncClient(transport=transport, **self._options(base_url))

    def sync_client(
        self, base_url: str | None = None, raise_server_exceptions: bool | None = None
    ) -> TiffinClient:
        assert self.live is not None, "the live session is not started"
        transport = LiveSyncTransport(
            self.live,
            request_timeout=self.harness.settings.request_timeout,
            streaming=self.harness.streaming,
            raise_server_exceptions=self._raise(raise_server_exceptions),
        )
        return TiffinClient(transport=transport, **self._options(base_url))
