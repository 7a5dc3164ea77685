"""uvicorn's internals that tiffin builds on: ``tiffin serve --workers N`` and the live server.

``uvicorn.supervisors.Multiprocess`` is importable but not documented; tiffin
overrides two of its methods. ``QuickServer`` (the test harness's live server)
overrides ``Server.main_loop`` and ``Server.shutdown`` and reads ``server_state``,
``servers`` and ``lifespan``, which are not uvicorn's documented API either:
uvicorn's ``main_loop`` looks at ``should_exit`` every 0.1 s and its ``shutdown``
sleeps 0.1 s before, and polls every 0.1 s while, waiting for connections and
tasks, about 0.2 s a stop, which a test suite would pay per test. ``QuickServer``
waits on an event instead and polls every 1 ms.

Checked against uvicorn 0.51.0 (the floor) and the latest installed (0.54.0).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

_POLL = 0.001
_DATE_REFRESH = 1.0  # uvicorn refreshes its Date header once a second (on_tick)


class QuickServer(uvicorn.Server):
    """``uvicorn.Server`` whose ``stop()``, from any thread, ends ``serve()`` at once."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.ready = threading.Event()  # set once startup() has returned (started or not)

    def stop(self) -> None:
        """Ask the server to stop (thread-safe); ``serve()`` then shuts down and returns."""
        self.should_exit = True
        loop, event = self._loop, self._stop
        if loop is not None and event is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the loop closed in between: serve() has returned
                pass

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()  # known during startup: it may hang
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()

    async def main_loop(self) -> None:
        self._stop = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter += 10  # on_tick refreshes the Date header when counter % 10 == 0
            try:
                await asyncio.wait_for(self._stop.wait(), _DATE_REFRESH)
            except TimeoutError:
                pass

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # idle keep-alive connections close now, busy ones after
        deadline = time.monotonic() + (self.config.timeout_graceful_shutdown or 0)
        while self.server_state.connections or self.server_state.tasks:
            if time.monotonic() >= deadline:
                for task in self.server_state.tasks:
                    task.cancel(msg="tiffin: the live server is stopping")
                break
            await asyncio.sleep(_POLL)
        if not self.force_exit:
            await self.lifespan.shutdown()


def draining_multiprocess(on_worker_gone: Callable[[int], None]) -> Any:
    """uvicorn's ``Multiprocess``, closing its copy of the listening socket when it stops.

    Otherwise the kernel would keep queueing new connections on the supervisor's
    copy while the workers drain, and reset them only when it exits. A worker that
    died (and was replaced) never ran its shutdown: ``on_worker_gone(pid)`` is called
    for it.
    """
    from uvicorn.supervisors import Multiprocess

    class DrainingMultiprocess(Multiprocess):
        def terminate_all(self) -> None:
            for sock in self.sockets:
                sock.close()
            super().terminate_all()

        def keep_subprocess_alive(self) -> None:
            before = {process.pid for process in self.processes}
            super().keep_subprocess_alive()
            for pid in before - {process.pid for process in self.processes}:
                if pid is not None:
                    on_worker_gone(pid)

    return DrainingMultiprocess
