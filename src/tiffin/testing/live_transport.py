"""httpx transports to a live server: any URL goes to its socket, deadlines as in-process.

The client keeps the ``base_url`` the test gave (``http://example.com`` for a
service behind ``TrustedHostMiddleware``), so the ``Host`` header and absolute
URLs are what the test wrote; the transport sends every request to the live
server's loopback port, as the in-process transport sends every request to the app.

A request past its deadline fails with the same ``DeadlineExceeded`` as
in-process, naming where the server's handler hangs (the handler is then
cancelled). Unless the client streams (``streaming=True``), the whole response
must arrive within the deadline: an endless body read with ``client.get()``
fails at the deadline, saying to stream it. With ``raise_server_exceptions``, a
5xx answered because the service raised is replaced by that exception, as in-process.
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.to_thread
import httpx

from tiffin.testing.live import LiveServer
from tiffin.testing.loops import DeadlineExceeded
from tiffin.testing.transport import streaming_hint

REQUEST_HINT = (
    "Raise the deadline with --tiffin-request-timeout or the tiffin_request_timeout ini key."
)


# Headers and body go out in two writes; without TCP_NODELAY the second can wait for the
# server's delayed ACK (40 ms on Linux). verify=False: the connection is plain HTTP to
# loopback, and loading the CA bundle for TLS that never happens costs ~100 ms a client.
_NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def _stream_message(what: str, response: httpx.Response, seconds: float) -> str:
    content_type = response.headers.get("content-type", "")
    return streaming_hint(what, response.status_code, content_type, seconds)


def _hang_message(request: httpx.Request, seconds: float, where: str | None) -> str:
    what = f"the request {request.method} {request.url.path}"
    place = where or "the live server (its handler had already returned)"
    return f"tiffin: {what} did not finish within {seconds:g}s; it hung in {place}. {REQUEST_HINT}"


def _to_socket(live: LiveServer, request: httpx.Request) -> None:
    # Host and the URL the test wrote are kept; only the connection goes to the server.
    if "host" not in request.headers:
        request.headers["host"] = request.url.netloc.decode("ascii")
    request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=live.port)


class _LiveTarget:
    """What the sync and the async transport share: the server, its deadline, the body rule."""

    def __init__(
        self,
        live: LiveServer,
        *,
        request_timeout: float,
        streaming: bool,
        raise_server_exceptions: bool = True,
    ) -> None:
        self.live = live
        self.raise_server_exceptions = raise_server_exceptions
        self.request_timeout = request_timeout
        self.streaming = streaming


class _Body:
    """One response's body as the test reads it, within the request's deadline."""

    def __init__(
        self, transport: _LiveTarget, request: httpx.Request, response: httpx.Response, began: float
    ) -> None:
        self.transport = transport
        self.request = request
        self.response = response
        self.inner: Any = response.stream
        self.began = began


class LiveAsyncTransport(_LiveTarget, httpx.AsyncBaseTransport):
    def __init__(self, live: LiveServer, **options: Any) -> None:
        super().__init__(live, **options)
        self.inner = httpx.AsyncHTTPTransport(socket_options=_NODELAY, verify=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        method, path = request.method, request.url.path
        began = time.monotonic()
        _to_socket(self.live, request)
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TimeoutException:
            where = await anyio.to_thread.run_sync(self.live.give_up, method, path)
            raise DeadlineExceeded(_hang_message(request, self.request_timeout, where)) from None
        if self.raise_server_exceptions and response.status_code >= 500:
            raised = await anyio.to_thread.run_sync(self.live.server_exception, method, path)
            if raised is not None:
                await response.aclose()
                raise raised
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _AsyncBody(self, request, response, began)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class _AsyncBody(_Body, httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self.inner, httpx.AsyncByteStream)
        chunks = self.inner.__aiter__()
        timeout = self.transport.request_timeout
        what = f"the request {self.request.method} {self.request.url.path}"
        while True:
            # The whole body within the deadline, unless the test streams it on purpose.
            left = None if self.transport.streaming else self.began + timeout - time.monotonic()
            try:
                with anyio.fail_after(max(left, 0) if left is not None else None):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                await anyio.to_thread.run_sync(
                    self.transport.live.give_up, self.request.method, self.request.url.path
                )
                raise DeadlineExceeded(_stream_message(what, self.response, timeout)) from None
            except httpx.TimeoutException:
                where = await anyio.to_thread.run_sync(
                    self.transport.live.give_up, self.request.method, self.request.url.path
                )
                raise DeadlineExceeded(_hang_message(self.request, timeout, where)) from None
            yield chunk

    async def aclose(self) -> None:
        assert isinstance(self.inner, httpx.AsyncByteStream)
        await self.inner.aclose()


class LiveSyncTransport(_LiveTarget, httpx.BaseTransport):
    def __init__(self, live: LiveServer, **options: Any) -> None:
        super().__init__(live, **options)
        self.inner = httpx.HTTPTransport(socket_options=_NODELAY, verify=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        method, path = request.method, request.url.path
        began = time.monotonic()
        _to_socket(self.live, request)
        try:
            response = self.inner.handle_request(request)
        except httpx.TimeoutException:
            where = self.live.give_up(method, path)
            raise DeadlineExceeded(_hang_message(request, self.request_timeout, where)) from None
        if self.raise_server_exceptions and response.status_code >= 500:
            raised = self.live.server_exception(method, path)
            if raised is not None:
                response.close()
                raise raised
        response.stream = _SyncBody(self, request, response, began)
        return response

    def close(self) -> None:
        self.inner.close()


class _SyncBody(_Body, httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        timeout = self.transport.request_timeout
        what = f"the request {self.request.method} {self.request.url.path}"
        try:
            for chunk in self.inner:
                yield chunk
                # A blocking read cannot be cut short; an endless body still sends chunks.
                if not self.transport.streaming and time.monotonic() - self.began > timeout:
                    self.transport.live.give_up(self.request.method, self.request.url.path)
                    raise DeadlineExceeded(_stream_message(what, self.response, timeout))
        except httpx.TimeoutException:
            where = self.transport.live.give_up(self.request.method, self.request.url.path)
            raise DeadlineExceeded(_hang_message(self.request, timeout, where)) from None

    def close(self) -> None:
        self.inner.close()
