"""A live server: the composed app served by uvicorn on a free loopback port, in a thread.

``server=`` picks Hypercorn or Granian instead (``tiffin.servers``).

The thread runs its own event loop, so the server works whatever loop (or none)
the test runs on, trio included. A startup failure is reported with the
service's own message as soon as uvicorn gives up, not after the readiness
deadline. The server knows which requests are in flight, so a client whose
request passed its deadline can ask where the handler hangs
(``describe_request``) and stop it, as the in-process transport does.

uvicorn's logging is left as it is configured (``log_config=None``: no handler
of its own on stderr); a handler the harness cancelled after its deadline is not
reported again as an "Exception in ASGI application".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiffin.exceptions import StartupError
from tiffin.servers import make_server
from tiffin.testing.loops import DeadlineExceeded, describe_step, describe_task

# A handler the harness gave up on is cancelled after this many seconds of shutdown
# (in-process, the same wait is the transport's disconnect_grace).
GRACEFUL_SHUTDOWN = 1.0


class _Watch:
    """Passes every scope through, recording a failed startup and the requests in flight."""

    def __init__(self, app: ASGIApp, composed: Any) -> None:
        self.app = app
        self.composed = composed
        self.failure: str | None = None
        self.lifespan_task: asyncio.Task[Any] | None = None
        self.abandoned = False
        self.in_flight: dict[asyncio.Task[Any], tuple[str, str]] = {}
        # (method, path) and the exception the service's error guard caught, oldest first
        self.server_errors: list[tuple[tuple[str, str], BaseException]] = []
        self.cancelled: set[asyncio.Task[Any]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        task = asyncio.current_task()
        assert task is not None
        request = self.in_flight[task] = (scope.get("method", "WEBSOCKET"), scope["path"])
        caught: list[BaseException] = []  # the error guard hands what it caught to this list
        extensions = dict(scope.get("extensions") or {})
        extensions["tiffin.server_exceptions"] = caught
        try:
            await self.app({**scope, "extensions": extensions}, receive, send)
        except asyncio.CancelledError:
            if task not in self.cancelled:
                raise
            # Cancelled by the harness after its deadline, which the test already reports.
            task.uncancel()
        finally:
            self.server_errors.extend((request, exc) for exc in caught)
            del self.in_flight[task]
            self.cancelled.discard(task)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = self.lifespan_task = asyncio.current_task()
        assert task is not None
        try:
            await self._watched_lifespan(scope, receive, send)
        except asyncio.CancelledError:
            if not self.abandoned:
                raise
            # The startup passed its deadline, which the test reports; uvicorn need not.
            task.uncancel()

    async def _watched_lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:

        async def watched_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                self.failure = message.get("message") or "lifespan.startup.failed"
            await send(message)

        await self.app(scope, receive, watched_send)

    def abandon_startup(self) -> str:
        """Where the startup hangs; then every task of the server is cancelled, so it stops."""
        task = self.lifespan_task
        step = getattr(self.composed, "current_step", None)  # a tiffin app says which step
        where = describe_step(step, task) if task is not None else "uvicorn, before the lifespan"
        self.abandoned = True
        current = asyncio.current_task()
        for pending in asyncio.all_tasks():
            if pending is not current:
                pending.cancel()
        return where

    def give_up(self, method: str, path: str) -> str | None:
        """Where the oldest in-flight ``method path`` is suspended; then cancel it."""
        for task, request in list(self.in_flight.items()):
            if request == (method, path):
                where = describe_task(task)
                self.cancelled.add(task)
                task.cancel()
                return where
        return None


class LiveServer:
    """``with LiveServer(app) as url:`` serves ``app`` on ``127.0.0.1:<free port>``.

    ``composed`` is the service's ``ComposedApp`` when ``app`` wraps it (its running
    instance and the startup step that hangs are read from it); default: ``app``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        startup_timeout: float = 10.0,
        shutdown_timeout: float = 10.0,
        composed: Any = None,
        server: str = "uvicorn",
    ) -> None:
        self.app = app
        self.composed = app if composed is None else composed
        self.server_name = server
        self.watch = _Watch(app, self.composed)
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are TCP;
        # without it every response waits for the client's delayed ACK (40 ms on Linux).
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))  # the port is ours from here on: no race
        self.port: int = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = make_server(server, self.watch, shutdown_timeout=GRACEFUL_SHUTDOWN)
        self.thread = threading.Thread(
            target=self._run,
            daemon=True,
            name=f"tiffin live server :{self.port}",
        )

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.socket])
        except SystemExit:
            # uvicorn exits the process when startup fails; here only this thread stops,
            # and start() reports the failure with the message the watch recorded.
            pass
        except asyncio.CancelledError:
            pass  # a startup past its deadline: start() reports where it hung

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self.server.started:
            if not self.thread.is_alive() or self.watch.failure is not None:
                self.stop()
                cause = self.watch.failure or f"{self.server_name} exited"
                raise StartupError(f"the live server failed to start: {cause}")
            if time.monotonic() > deadline:
                raise DeadlineExceeded(self._abandon_startup())
            self.server.ready.wait(0.02)
        return self.url

    def _abandon_startup(self) -> str:
        where = self.call_in_server(self.watch.abandon_startup)
        self.server.stop()
        self.thread.join(GRACEFUL_SHUTDOWN)
        self.socket.close()
        service = getattr(getattr(self.composed, "service", None), "name", None)
        what = f"service {service!r}" if service else f"the app served on {self.url}"
        return (
            f"tiffin: the startup of {what} (live transport) did not finish within "
            f"{self.startup_timeout:g}s; it hung in {where or 'an unknown place'}. Raise the "
            "deadline with --tiffin-startup-timeout or the tiffin_startup_timeout ini key."
        )

    def call_in_server(self, function: Callable[[], Any], timeout: float = 2.0) -> Any:
        """Run ``function`` on the server's event loop; its result (None if it has stopped)."""
        loop = self.server.loop
        if loop is None or loop.is_closed():
            return None

        async def run() -> Any:
            return function()

        try:
            return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)
        except (RuntimeError, concurrent.futures.TimeoutError):
            return None

    def server_exception(self, method: str, path: str, wait: float = 1.0) -> BaseException | None:
        """The exception the handler of ``method path`` raised, once it has returned."""
        deadline = time.monotonic() + wait
        while (method, path) in self.watch.in_flight.values() and time.monotonic() < deadline:
            time.sleep(0.002)  # a framework may send its 500 before re-raising
        for index, (request, exc) in enumerate(list(self.watch.server_errors)):
            if request == (method, path):
                del self.watch.server_errors[index]
                return exc
        return None

    def give_up(self, method: str, path: str) -> str | None:
        """Where the server's handler of ``method path`` hangs (then it is cancelled)."""
        where: str | None = self.call_in_server(lambda: self.watch.give_up(method, path))
        return where

    def stop(self) -> None:
        self.server.stop()
        if self.thread.is_alive():
            self.thread.join(self.shutdown_timeout + GRACEFUL_SHUTDOWN + 1)
        self.socket.close()
        if self.thread.is_alive():
            raise DeadlineExceeded(
                f"tiffin: the live server on {self.url} did not shut down within "
                f"{self.shutdown_timeout:g}s"
            )

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
