"""Which service is running here: a context variable set by each composed app.

The composed app sets the variable around every request it serves and around
its lifespan, so two composed apps in one process never see each other's
instance. A plain thread started by user code inherits no context; there the
only running service (if exactly one runs in the process) is the answer.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any, Protocol


class RunningService(Protocol):
    name: str
    instance: Any


_current: contextvars.ContextVar[RunningService | None] = contextvars.ContextVar(
    "tiffin_current_service", default=None
)
_running: list[RunningService] = []
_running_lock = threading.Lock()

NOT_RUNNING_MESSAGE = (
    "get_current_service() was called where no service is running. Call it inside a "
    "request handler, a mounted app's route or lifespan, or an on_startup/on_shutdown hook "
    "of a started service (started by `tiffin serve`, or in tests by the tiffin_client "
    "fixture). In __init__ use `self` instead."
)


def get_current_service() -> Any:
    """Return the instance of the service serving the current request or lifespan."""
    from tiffin.exceptions import ServiceNotRunning

    running = _current.get()
    if running is None:
        with _running_lock:
            if len(_running) == 1:
                running = _running[0]
    if running is None or running.instance is None:
        raise ServiceNotRunning(NOT_RUNNING_MESSAGE)
    return running.instance


def enter(running: RunningService) -> contextvars.Token[RunningService | None]:
    return _current.set(running)


def leave(token: contextvars.Token[RunningService | None]) -> None:
    _current.reset(token)


def mark_running(running: RunningService) -> None:
    with _running_lock:
        if running not in _running:
            _running.append(running)


def mark_stopped(running: RunningService) -> None:
    with _running_lock:
        if running in _running:
            _running.remove(running)


def current_runtime() -> Any:
    """The running service of this context (a request, a lifespan), or None."""
    return _current.get()


def running_runtimes() -> list[Any]:
    """Every service started in this process and not yet stopped."""
    with _running_lock:
        return list(_running)
