"""The harness for ``def`` tests: ``with ServiceClient(MyService) as client:``, an httpx.Client.

In-process, the service runs as ``async with ServiceClient(...)`` runs it, on an
event loop in a thread of its own (anyio's blocking portal, as Starlette's
``TestClient`` does), and the sync client's transport hands every request to
the in-process transport on that loop: deadlines, streaming, loop checks and
``raise_server_exceptions`` behave as for the async client. Live, the sync
client talks to the live server's socket directly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import anyio.from_thread
import httpx

from tiffin.testing.calls import TiffinAsyncClient, TiffinClient
from tiffin.testing.live_session import LiveSession

if TYPE_CHECKING:
    from tiffin.testing.factory import ServiceClient

_END = object()


class SyncSession:
    """Runs ``harness`` for a sync caller; ``start()`` returns the ``TiffinClient``."""

    def __init__(self, harness: ServiceClient) -> None:
        self.harness = harness
        self._exit = contextlib.ExitStack()

    def start(self) -> TiffinClient:
        with contextlib.ExitStack() as stack:
            if self.harness.transport == "live":
                session = LiveSession(self.harness).start()
                stack.callback(session.stop)
                client = session.sync_client(self.harness.base_url)
            else:
                portal = stack.enter_context(anyio.from_thread.start_blocking_portal("asyncio"))
                async_client = portal.call(self.harness.__aenter__)
                stack.push(_exit_in(portal, self.harness))
                assert isinstance(async_client, TiffinAsyncClient)
                client = TiffinClient(
                    transport=_PortalTransport(portal, async_client),
                    base_url=async_client.base_url,
                    service_name=async_client._service_name,
                    routes=async_client._routes,
                    instance=async_client._instance,
                )
            stack.enter_context(client)
            self._exit = stack.pop_all()
        return client

    def stop(self, *exc_info: Any) -> None:
        self._exit.__exit__(*exc_info) if exc_info else self._exit.close()


def _exit_in(portal: anyio.from_thread.BlockingPortal, harness: ServiceClient) -> Any:
    def exit_harness(*exc_info: Any) -> None:
        portal.call(harness.__aexit__, *exc_info)

    return exit_harness


class _PortalTransport(httpx.BaseTransport):
    """Sends each request through the async client's transport, on the portal's loop."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, client: TiffinAsyncClient):
        self.portal = portal
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        forwarded = httpx.Request(
            request.method,
            request.url,
            headers=request.headers,
            content=body,
            extensions=request.extensions,
        )
        transport = self.client._transport  # the in-process transport the harness made
        response = self.portal.call(transport.handle_async_request, forwarded)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        extensions = dict(response.extensions)
        if "network_stream" in extensions:  # an accepted websocket (httpx_ws.connect_ws)
            extensions["network_stream"] = _PortalNetworkStream(
                self.portal, extensions["network_stream"]
            )
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_PortalBody(self.portal, response.stream),
            extensions=extensions,
        )


class _PortalNetworkStream:
    """The sync face of the in-process websocket stream: each call runs on the portal's loop."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, stream: Any) -> None:
        self.portal = portal
        self.stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = self.portal.call(self.stream.read, max_bytes, timeout)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.portal.call(self.stream.write, buffer, timeout)

    def close(self) -> None:
        self.portal.call(self.stream.aclose)

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class _PortalBody(httpx.SyncByteStream):
    def __init__(self, portal: anyio.from_thread.BlockingPortal, body: httpx.AsyncByteStream):
        self.portal = portal
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        chunks = self.body.__aiter__()

        async def next_chunk() -> Any:
            try:
                return await chunks.__anext__()
            except StopAsyncIteration:
                return _END

        while True:
            chunk = self.portal.call(next_chunk)
            if chunk is _END:
                return
            yield chunk

    def close(self) -> None:
        self.portal.call(self.body.aclose)
