"""Traffic limits: the request timeout, the concurrency limit and the body size limit.

The timeout is a timer on the event loop rather than a watchdog task: when it
fires before the response has started, the client gets its 504 at once even if
the handler is stuck in a thread that cannot be cancelled. One timer serves
every request in flight on a loop (see ``_Watchdog``), so a request costs a
dict entry rather than a timer handle of its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiffin.responses import json_error
from tiffin.routing import path_in_app

SLOT_SCOPE_KEY = "tiffin.slot"


class TimeoutMiddleware:
    """``504`` when no response has started within ``timeout`` seconds; cancels the handler."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout
        self.message = f"Not able to process the request in {timeout:g} seconds"
        self._watchdog: _Watchdog | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        watchdog = self._watchdog
        if watchdog is None or watchdog.loop is not loop:
            watchdog = self._watchdog = _Watchdog(loop, self.timeout)
        deadline = _Deadline(self, scope, receive, send)
        watchdog.add(deadline)
        try:
            await self.app(scope, deadline.receive, deadline.send)
        except asyncio.CancelledError:
            if not deadline.expired:
                raise
            if deadline.task is not None:
                deadline.task.uncancel()
        except Exception:
            if not deadline.expired:
                raise
            # The client already has its 504; a late failure has no one to answer.
        finally:
            deadline.finished = True
            watchdog.discard(deadline)
        if deadline.responded is not None:
            await deadline.responded


# asyncio runs a timer this much early at most (its own rule in BaseEventLoop._run_once).
_CLOCK_RESOLUTION = time.get_clock_info("monotonic").resolution


class _Watchdog:
    """One loop timer for the deadlines of every request in flight on one loop.

    A middleware has one timeout, so deadlines arrive in the order they fall due
    and an insertion-ordered dict is the queue: adding and removing a request is
    a dict operation, and the timer is set for the first entry only. (A timer
    per request leaves a cancelled handle in the loop's heap for each.) Each
    deadline expires in a callback of its own, in the context of its request,
    as it would with a timer of its own.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        self.pending: dict[_Deadline, tuple[float, contextvars.Context]] = {}
        self.timer: asyncio.TimerHandle | None = None

    def add(self, deadline: _Deadline) -> None:
        when = self.loop.time() + self.timeout
        self.pending[deadline] = (when, contextvars.copy_context())
        if self.timer is None:
            self.timer = self.loop.call_at(when, self._fire)

    def discard(self, deadline: _Deadline) -> None:
        self.pending.pop(deadline, None)

    def _fire(self) -> None:
        self.timer = None
        due = self.loop.time() + _CLOCK_RESOLUTION
        while self.pending:
            deadline, (when, context) = next(iter(self.pending.items()))
            if when >= due:
                self.timer = self.loop.call_at(when, self._fire)
                return
            del self.pending[deadline]
            self.loop.call_soon(deadline.expire, context=context)


DISCONNECT: Message = {"type": "http.disconnect"}
# How long an app that listens for disconnects in a task of its own (Quart does) is
# given to cancel its handler itself before its request is cancelled from outside.
DISCONNECT_GRACE_SECONDS = 0.1


class _Deadline:
    def __init__(
        self, owner: TimeoutMiddleware, scope: Scope, receive: Receive, send: Send
    ) -> None:
        self.owner = owner
        self.scope, self.upstream_receive, self.upstream = scope, receive, send
        self.task = asyncio.current_task()
        self.started = False
        self.expired = False
        self.finished = False
        self.responded: asyncio.Task[None] | None = None
        self.listeners: set[asyncio.Task[object]] = set()

    async def receive(self) -> Message:
        """The client's messages; once the deadline passed, ``http.disconnect``."""
        if self.expired:
            return DISCONNECT
        task = asyncio.current_task()
        if task is self.task or task is None:
            return await self.upstream_receive()
        self.listeners.add(task)
        try:
            return await self.upstream_receive()
        except asyncio.CancelledError:
            if not self.expired:
                raise
            task.uncancel()
            return DISCONNECT
        finally:
            self.listeners.discard(task)

    async def send(self, message: Message) -> None:
        if self.expired:
            return  # the client already has its 504
        if message["type"] == "http.response.start":
            self.started = True
        await self.upstream(message)

    def expire(self) -> None:
        if self.started:
            return
        self.expired = True
        response = json_error(504, self.owner.message)
        self.responded = asyncio.ensure_future(
            response(self.scope, self.upstream_receive, self.upstream)
        )
        if self.listeners:
            for listener in self.listeners:
                listener.cancel()  # its receive() returns http.disconnect
            asyncio.get_running_loop().call_later(DISCONNECT_GRACE_SECONDS, self._cancel_request)
        else:
            self._cancel_request()

    def _cancel_request(self) -> None:
        if not self.finished and self.task is not None:
            self.task.cancel()


class Slot:
    """One request's claim on the concurrency limit.

    A sync handler's thread holds the slot too, so a request that timed out
    keeps it until its thread returns.
    """

    __slots__ = ("_holders", "_limiter")

    def __init__(self, limiter: ConcurrencyLimitMiddleware) -> None:
        self._limiter = limiter
        self._holders = 1

    def hold(self) -> None:
        with self._limiter.lock:
            self._holders += 1

    def release(self) -> None:
        with self._limiter.lock:
            self._holders -= 1
            if self._holders == 0:
                self._limiter.in_use -= 1


class ConcurrencyLimitMiddleware:
    """An immediate ``429`` with ``Retry-After`` past ``max_concurrency`` requests in flight."""

    def __init__(self, app: ASGIApp, max_concurrency: int, exempt_paths: frozenset[str]) -> None:
        self.app = app
        self.max_concurrency = max_concurrency
        self.exempt_paths = exempt_paths
        self.in_use = 0
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or path_in_app(scope) in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        with self.lock:
            admitted = self.in_use < self.max_concurrency
            if admitted:
                self.in_use += 1
        if not admitted:
            response = json_error(429, "Too many requests", headers={"Retry-After": "1"})
            await response(scope, receive, send)
            return
        slot = Slot(self)
        scope[SLOT_SCOPE_KEY] = slot
        try:
            await self.app(scope, receive, send)
        finally:
            slot.release()


class BodySizeLimitMiddleware:
    """``413`` JSON for a request body over ``max_body_size`` bytes, read no further."""

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size
        self.message = f"Request body is larger than the limit of {max_body_size} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_size:
            await json_error(413, self.message)(scope, receive, send)
            return
        limit = _BodyLimit(self, scope, receive, send)
        try:
            await self.app(scope, limit.receive, limit.send)
        except _BodyTooLarge:
            if not limit.responded:
                raise


class _BodyTooLarge(Exception):
    pass


class _BodyLimit:
    def __init__(
        self, owner: BodySizeLimitMiddleware, scope: Scope, receive: Receive, send: Send
    ) -> None:
        self.owner = owner
        self.scope, self.upstream_receive, self.upstream_send = scope, receive, send
        self.received = 0
        self.started = False
        self.responded = False

    async def receive(self) -> Message:
        message = await self.upstream_receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.owner.max_body_size:
                if not self.started:
                    self.responded = True
                    await json_error(413, self.owner.message)(
                        self.scope, self.upstream_receive, self.upstream_send
                    )
                raise _BodyTooLarge
        return message

    async def send(self, message: Message) -> None:
        if self.responded:
            return  # the client already has its 413
        if message["type"] == "http.response.start":
            self.started = True
        await self.upstream_send(message)
