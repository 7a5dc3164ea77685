"""The in-process transport: httpx requests and websockets to an ASGI app, with deadlines.

``httpx.ASGITransport`` runs the app to completion and buffers the whole body
before the test sees the response. That is what most tests want: when the
response arrives, the handler and its background work are done. It cannot read
a stream that never ends, nor disconnect mid-stream, so ``streaming=True``
runs the app in a task of its own and hands the body over chunk by chunk:

- ``async with client.stream("GET", "/events") as r: async for line in r.aiter_lines()``
  reads as the app sends; leaving the block disconnects the client, and the app
  receives ``http.disconnect`` (as from a real server) and is cancelled if it
  has not stopped within ``disconnect_grace`` seconds.

Websocket requests (``httpx_ws.aconnect_ws(path, client)``) go through
``httpx_ws.transport.ASGIWebSocketTransport``, which this class extends.

``raise_server_exceptions=True`` (the default, as Starlette's ``TestClient``):
an exception the service's error guard caught in user code is raised in the
test once the response is in; ``False`` leaves the test the 500 response.
A buffered request that passes its deadline while its body is still arriving is
named an endless response, with the fix (``streaming=True``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.types import ASGIApp, Message

from tiffin.testing.loops import DeadlineExceeded, LoopGuard, deadline

_END = object()


_WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}


class InProcessTransport(ASGIWebSocketTransport):
    """An ``httpx.ASGITransport`` with websockets, streaming bodies, loop checks and deadlines."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        streaming: bool = False,
        request_timeout: float = 30.0,
        disconnect_grace: float = 1.0,
        loop_guard: LoopGuard | None = None,
        raise_server_exceptions: bool = True,
    ) -> None:
        super().__init__(app=_Observed(app), initial_receive_timeout=request_timeout)
        self.raise_server_exceptions = raise_server_exceptions
        self.streaming = streaming
        self.request_timeout = request_timeout
        self.disconnect_grace = disconnect_grace
        self.loop_guard = loop_guard

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        what = f"the request {request.method} {request.url.path}"
        if self.loop_guard is not None:
            self.loop_guard.check(what)
        is_websocket = request.headers.get("upgrade") == "websocket"
        if is_websocket and request.url.scheme in _WEBSOCKET_SCHEMES:
            # A websocket scope's scheme is ws/wss (the ASGI spec); Quart routes on it.
            request.url = request.url.copy_with(scheme=_WEBSOCKET_SCHEMES[request.url.scheme])
        record = _Record()
        token = _RECORD.set(record)
        try:
            if is_websocket or not self.streaming:
                try:
                    async with deadline(self.request_timeout, what, hint=_REQUEST_HINT):
                        response = await super().handle_async_request(request)
                except DeadlineExceeded:
                    if record.status is None or not record.more_body:
                        raise
                    message = streaming_hint(
                        what, record.status, record.content_type, self.request_timeout
                    )
                    raise DeadlineExceeded(message) from None
            else:
                response = await self._stream(request, what)
        finally:
            _RECORD.reset(token)
        if record.exceptions and self.raise_server_exceptions:
            await response.aclose()
            raise record.exceptions[0]
        return response

    async def _stream(self, request: httpx.Request, what: str) -> httpx.Response:
        exchange = _Exchange(self.app, _http_scope(request, self.root_path, self.client))
        exchange.start(request)
        try:
            async with deadline(
                self.request_timeout, what, watched=exchange.task, hint=_REQUEST_HINT
            ):
                start = await exchange.next_message()
        except BaseException:
            await exchange.close(self.disconnect_grace)
            raise
        if start is _END:
            await exchange.close(self.disconnect_grace)
            raise RuntimeError(f"tiffin: the app returned without answering {what}")
        assert isinstance(start, dict)
        return httpx.Response(
            status_code=start["status"],
            headers=start.get("headers", []),
            stream=_ResponseBody(exchange, what, self.request_timeout, self.disconnect_grace),
        )


_REQUEST_HINT = (
    "Raise the deadline with --tiffin-request-timeout or the tiffin_request_timeout ini key."
)


def streaming_hint(what: str, status: Any, content_type: str, seconds: float) -> str:
    """The deadline message for a body still arriving: most likely an endless stream."""
    return (
        f"tiffin: {what} did not finish within {seconds:g}s: the response ({status}, "
        f"{content_type or 'no content-type'}) had started and was still sending its body. "
        "An endless response (server-sent events, a stream) cannot be read whole: pass "
        "streaming=True (to the tiffin_service marker, tiffin_client_factory or ServiceClient) "
        'and read it with `async with client.stream("GET", path) as response:` '
        "(sync: `with client.stream(...)`), leaving the block when done."
    )


@dataclass
class _Record:
    """What the app did with one request: the response start, more body due, exceptions."""

    status: int | None = None
    content_type: str = ""
    more_body: bool = False
    exceptions: list[BaseException] = field(default_factory=list)


_RECORD: ContextVar[_Record | None] = ContextVar("tiffin_request_record", default=None)


class _Observed:
    """Around the app: hands the error guard the record's exception list, records the start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        record = _RECORD.get()
        if record is None or scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        extensions = {
            **(scope.get("extensions") or {}),
            "tiffin.server_exceptions": record.exceptions,
        }
        scope = {**scope, "extensions": extensions}

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                for key, value in message.get("headers", []):
                    if key.lower() == b"content-type":
                        record.content_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                record.more_body = message.get("more_body", False)
            await send(message)

        await self.app(scope, receive, observed_send)


def _http_scope(request: httpx.Request, root_path: str, client: tuple[str, int]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "headers": [(k.lower(), v) for (k, v) in request.headers.raw],
        "scheme": request.url.scheme,
        "path": request.url.path,
        "raw_path": request.url.raw_path.split(b"?")[0],
        "query_string": request.url.query,
        "server": (request.url.host, request.url.port),
        "client": client,
        "root_path": root_path,
    }


class _Exchange:
    """One request/response between the test and the app task, through queues."""

    def __init__(self, app: ASGIApp, scope: dict[str, Any]) -> None:
        self.app = app
        self.scope = scope
        self.outbox: asyncio.Queue[Any] = asyncio.Queue()
        self.disconnected = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    def start(self, request: httpx.Request) -> None:
        self.task = asyncio.create_task(self._run(request), name=f"tiffin {request.url.path}")

    async def _run(self, request: httpx.Request) -> None:
        body = request.stream
        assert isinstance(body, httpx.AsyncByteStream)
        chunks = body.__aiter__()
        body_done = False

        async def receive() -> Message:
            nonlocal body_done
            if not self.disconnected.is_set():
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    pass
                else:
                    return {"type": "http.request", "body": chunk, "more_body": True}
            if not body_done:
                body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self.disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if not self.disconnected.is_set():  # after a disconnect, as a server: dropped
                await self.outbox.put(message)

        try:
            await self.app(self.scope, receive, send)
        except Exception as exc:
            self.error = exc
        finally:
            await self.outbox.put(_END)

    async def next_message(self) -> Any:
        message = await self.outbox.get()
        if message is _END and self.error is not None:
            raise self.error
        return message

    async def close(self, grace: float) -> None:
        """Disconnect; cancel the app task if it has not stopped within ``grace`` seconds."""
        self.disconnected.set()
        if self.task is None or self.task.done():
            return
        done, _ = await asyncio.wait({self.task}, timeout=grace)
        if not done:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


class _ResponseBody(httpx.AsyncByteStream):
    def __init__(self, exchange: _Exchange, what: str, timeout: float, grace: float) -> None:
        self.exchange = exchange
        self.what = what
        self.timeout = timeout
        self.grace = grace
        self.more = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.more:
            async with deadline(
                self.timeout,
                f"the next body chunk of {self.what}",
                watched=self.exchange.task,
                hint=_REQUEST_HINT,
            ):
                message = await self.exchange.next_message()
            if message is _END:
                break
            if message["type"] != "http.response.body":
                continue
            self.more = message.get("more_body", False)
            if message.get("body"):
                yield message["body"]

    async def aclose(self) -> None:
        await self.exchange.close(self.grace)
