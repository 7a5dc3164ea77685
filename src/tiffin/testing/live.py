"""A live server: the composed app served by uvicorn on a free loopback port, in a thread.

``server=`` picks Hypercorn or Granian instead (``tiffin.servers``).

The thread runs its own event loop, so the server works whatever loop (or none)
the test runs on. A startup failure is reported with the service's own message
as soon as uvicorn gives up, not after the readiness deadline.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiffin.servers import make_server
from tiffin.testing.loops import DeadlineExceeded


class _StartupWatch:
    """Passes the lifespan through, recording the message of a failed startup."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.failure: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def watched_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                self.failure = message.get("message") or "lifespan.startup.failed"
            await send(message)

        await self.app(scope, receive, watched_send)


class LiveServer:
    """``with LiveServer(app) as url:`` serves ``app`` on ``127.0.0.1:<free port>``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        startup_timeout: float = 10.0,
        shutdown_timeout: float = 10.0,
        server: str = "uvicorn",
    ) -> None:
        self.server_name = server
        self.watch = _StartupWatch(app)
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))  # the port is ours from here on: no race
        self.port: int = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = make_server(server, self.watch, shutdown_timeout=2)
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

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self.server.started:
            if not self.thread.is_alive() or self.watch.failure is not None:
                self.stop()
                cause = self.watch.failure or f"{self.server_name} exited"
                raise RuntimeError(f"tiffin: the live server failed to start: {cause}")
            if time.monotonic() > deadline:
                self.stop()
                raise DeadlineExceeded(
                    f"tiffin: the live server on {self.url} did not finish startup within "
                    f"{self.startup_timeout:g}s (raise --tiffin-startup-timeout)"
                )
            time.sleep(0.005)
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(self.shutdown_timeout + 3)
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
