"""uvicorn's internals that ``tiffin serve --workers N`` builds on.

``uvicorn.supervisors.Multiprocess`` is importable but not documented; tiffin
overrides two of its methods. Checked against uvicorn 0.51.0 (the floor) and the
latest installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


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
