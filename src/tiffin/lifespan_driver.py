"""Drive one ASGI app's lifespan through the protocol, as a server would: the one driver.

tiffin starts every mounted app with it (``ServiceLifespan``), and the harness
starts a BentoML app with it. It is cancel-safe: a cancelled ``startup()`` stops
the app's lifespan task before it returns.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message

# After answering, how long an app's lifespan coroutine may take to return or raise.
ANSWERED_GRACE = 1.0


class LifespanDriver:
    """Drives one ASGI app's lifespan through the protocol, as a server would.

    ``startup()`` sends ``lifespan.startup`` and waits for the answer;
    ``shutdown()`` sends ``lifespan.shutdown`` and waits again. An app that does
    not speak lifespan (raises or returns before receiving) is marked
    ``supported = False`` and skipped. The state the app's lifespan yields is
    ``state``. A cancelled ``startup()`` stops the app's lifespan task before
    it returns, so nothing is left running.
    """

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name
        self.state: dict[str, Any] = {}
        self.supported = True
        self.task: asyncio.Task[None] | None = None
        self._received_startup = False
        self._shutdown_requested = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._startup_answer: asyncio.Future[Message] = loop.create_future()
        self._shutdown_answer: asyncio.Future[Message] = loop.create_future()
        self._error: BaseException | None = None

    def begin(self) -> asyncio.Task[None]:
        """Start the app's lifespan coroutine in a task of its own (``startup`` waits for it)."""
        if self.task is None:
            self.task = asyncio.create_task(self._run(), name=f"lifespan of {self.name}")
        return self.task

    async def startup(self) -> None:
        self.begin()
        assert self.task is not None
        try:
            await _first_of(self._startup_answer, self.task)
        except BaseException:
            await self.abandon()
            raise
        if self._startup_answer.done():
            answer = self._startup_answer.result()
            if answer["type"] == "lifespan.startup.complete":
                return
            await self._settle()
            raise self._failure(answer)
        if not self._received_startup:
            self.supported = False  # raised or returned before receiving: no lifespan support
            return
        if self._error is not None:
            raise self._error
        self.supported = False  # returned after receiving startup without answering

    async def shutdown(self) -> None:
        if self.task is None or not self.supported:
            return
        self._shutdown_requested.set()
        try:
            await _first_of(self._shutdown_answer, self.task)
            if self._shutdown_answer.done():
                answer = self._shutdown_answer.result()
                await self._settle()
                if answer["type"] == "lifespan.shutdown.failed":
                    raise self._failure(answer)
            elif self._error is not None:
                raise self._error
        finally:
            await self.abandon()

    async def _settle(self) -> None:
        """After an answer, give the app a moment to return or raise (Starlette re-raises)."""
        if self.task is not None:
            await asyncio.wait({self.task}, timeout=ANSWERED_GRACE)
        await self.abandon()

    async def abandon(self) -> None:
        """Stop the app's lifespan task, if it still runs, and wait until it has."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.wait({self.task})

    def _failure(self, answer: Message) -> BaseException:
        """The app's own exception if it raised one, else the message it sent.

        Starlette (and so FastAPI) sends a whole traceback as the message of
        ``*.failed`` and then raises the exception itself: that names the cause.
        """
        if self._error is not None:
            return self._error
        return RuntimeError(answer.get("message") or f"the app sent {answer['type']}")

    async def _run(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self._receive, self._send)
        except Exception as exc:
            self._error = exc

    async def _receive(self) -> Message:
        if not self._received_startup:
            self._received_startup = True
            return {"type": "lifespan.startup"}
        await self._shutdown_requested.wait()
        return {"type": "lifespan.shutdown"}

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind.startswith("lifespan.startup.") and not self._startup_answer.done():
            self._startup_answer.set_result(message)
        elif kind.startswith("lifespan.shutdown.") and not self._shutdown_answer.done():
            self._shutdown_answer.set_result(message)


async def _first_of(answer: asyncio.Future[Message], task: asyncio.Task[None]) -> None:
    """Wait until the app answers, or its lifespan coroutine ends (returned or raised)."""
    waiters: set[asyncio.Future[Any]] = {answer, task}
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
