"""ASGI servers side by side: uvicorn, Hypercorn and Granian, each run the same way in a thread.

``make_server(name, app, shutdown_timeout=...)`` returns an object with the small
interface the live server (``tiffin.testing.live``) drives, that of
``tiffin.compat.uvicorn.QuickServer``: ``run(sockets=[sock])`` blocks in the
server's own thread and event loop (``loop``), ``ready`` is set once the app's
lifespan startup ended (completed or failed), ``started`` turns true once it
completed and the socket accepts connections, and ``stop()`` (from any thread)
stops it gracefully.

Hypercorn serves the socket it is handed (a duplicate of its descriptor, which it
closes itself). Granian's embedded server (experimental upstream, checked against
Granian 2.8) binds its address itself: the handed socket is closed first and its port
reused. Where the servers behave differently for a composed app, the conformance
suite's server columns show it (``conformance/GRID.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SERVERS = ("uvicorn", "hypercorn", "granian")
INSTALL = {
    "uvicorn": "uvicorn",
    "hypercorn": "pip install hypercorn",
    "granian": "pip install granian",
}


def make_server(name: str, app: ASGIApp, *, shutdown_timeout: float = 2.0) -> Any:
    """The named server, ready to ``run(sockets=[sock])`` ``app`` in a thread of its own."""
    if name == "uvicorn":
        import uvicorn

        from tiffin.compat.uvicorn import QuickServer

        config = uvicorn.Config(
            app,
            lifespan="on",
            log_config=None,  # never reconfigure the test run's logging
            log_level=None,
            access_log=False,
            timeout_graceful_shutdown=shutdown_timeout,  # type: ignore[arg-type]
        )
        return QuickServer(config)
    if name == "hypercorn":
        return HypercornServer(app, shutdown_timeout)
    if name == "granian":
        return GranianServer(app, shutdown_timeout)
    raise ValueError(f"unknown ASGI server {name!r}: expected one of {', '.join(SERVERS)}")


def unavailable(name: str) -> str | None:
    """Why the named server cannot run here (not installed), or None."""
    import importlib.util

    if name not in SERVERS:
        return f"unknown ASGI server {name!r}: expected one of {', '.join(SERVERS)}"
    if importlib.util.find_spec(name) is None:
        return f"{name} is not installed ({INSTALL[name]})"
    return None


class _ThreadedServer:
    """What Hypercorn and Granian share: a loop in the calling thread, a stop flag, readiness."""

    def __init__(self, app: ASGIApp, shutdown_timeout: float) -> None:
        self.app = app
        self.shutdown_timeout = shutdown_timeout
        self.should_exit = False
        self.lifespan_done = False
        self.startup_failed = False
        self.address: tuple[str, int] | None = None
        self.ready = threading.Event()  # the lifespan startup ended, completed or not
        self.loop: asyncio.AbstractEventLoop | None = None
        self._accepting = False

    def stop(self) -> None:
        """Ask the server to stop (from any thread); ``run()`` then returns."""
        self.should_exit = True

    @property
    def started(self) -> bool:
        """Startup completed and a connection is accepted (checked once, then remembered)."""
        if self._accepting or not self.lifespan_done or self.address is None:
            return self._accepting
        try:
            socket.create_connection(self.address, timeout=0.2).close()
        except OSError:
            return False
        self._accepting = True
        return True

    async def watched(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def watched_send(message: Message) -> None:
            self.startup_failed |= message["type"] == "lifespan.startup.failed"
            await send(message)
            if message["type"] == "lifespan.startup.complete":
                self.lifespan_done = True
            if message["type"].startswith("lifespan.startup."):
                self.ready.set()

        await self.app(scope, receive, watched_send)

    async def until_exit(self) -> None:
        while not self.should_exit:
            await asyncio.sleep(0.01)

    def run(self, sockets: list[socket.socket]) -> None:
        sock = sockets[0]
        self.address = sock.getsockname()[:2]
        try:
            asyncio.run(self._serve_here(sock))
        except Exception:
            # Both servers raise when the app's startup failed (Hypercorn's
            # LifespanFailureError, Granian's FatalError): the live server reports that
            # failure with the app's own message, as it does for uvicorn's exit.
            if not self.startup_failed:
                raise
        finally:
            self.ready.set()

    async def _serve_here(self, sock: socket.socket) -> None:
        self.loop = asyncio.get_running_loop()
        await self.serve(sock)

    async def serve(self, sock: socket.socket) -> None:
        raise NotImplementedError


class HypercornServer(_ThreadedServer):
    async def serve(self, sock: socket.socket) -> None:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        sock.listen(128)  # connections wait in the backlog until Hypercorn accepts them
        config = Config()
        config.bind = [f"fd://{os.dup(sock.fileno())}"]  # Hypercorn closes what it is given
        config.graceful_timeout = self.shutdown_timeout
        config.loglevel = "WARNING"
        config.accesslog = None
        app: Any = self.watched  # Hypercorn's own ASGI types are narrower than Starlette's
        await serve(app, config, shutdown_trigger=self.until_exit, mode="asgi")


class GranianServer(_ThreadedServer):
    async def serve(self, sock: socket.socket) -> None:
        from granian.constants import Interfaces
        from granian.server.embed import Server

        host, port = sock.getsockname()[:2]
        sock.close()  # Granian binds the address itself
        server: Any = Server(
            self.watched,
            address=host,
            port=port,
            interface=Interfaces.ASGI,
            log_enabled=False,
            blocking_threads=1,
        )
        server.workers_kill_timeout = int(self.shutdown_timeout) or 1

        async def stop_when_asked() -> None:
            await self.until_exit()
            server.stop()

        stopper = asyncio.ensure_future(stop_when_asked())
        try:
            await server.serve()
        finally:
            stopper.cancel()


def serve_with(name: str, app: ASGIApp, *, host: str, port: int, graceful_timeout: float) -> int:
    """``tiffin serve --server hypercorn|granian``: one worker, in this process, until
    SIGTERM or SIGINT (then requests in flight get ``graceful_timeout`` seconds).
    The exit status: 0, or 3 when the app's startup failed (uvicorn's code)."""
    import sys

    from tiffin.stop_signals import on_stop_signals

    reason = unavailable(name)
    if reason:
        print(f"tiffin: error: {reason}", file=sys.stderr)
        return 2
    server = make_server(name, app, shutdown_timeout=graceful_timeout)

    def stop(signum: int, frame: Any) -> None:
        server.should_exit = True

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    with on_stop_signals(stop), contextlib.closing(sock):
        sock.bind((host, port))
        server.run(sockets=[sock])
    return 3 if server.startup_failed else 0
