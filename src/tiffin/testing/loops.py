"""Deadlines and event-loop checks: a hung or misplaced test fails at once, saying why.

A deadline is a timer on the running loop. When it fires it first records where
the work is stuck, then cancels the awaiting task, so the error names what hung
instead of reporting a bare timeout.

Where the work is stuck is read from what the core records, never from another
module's frames: ``app.current_step`` (``tiffin.lifespan.Step``) names the step;
a sync step runs in a thread of its own (``step.thread``), whose innermost frame of
user code is read from ``sys._current_frames()``; an async step or a mounted app's
lifespan runs in a task (``step.task``, or the awaiting task), whose await chain is
followed through its coroutine objects.

Why a thread per sync step and not pytest-timeout's signal method: a signal
interrupts only the main thread, and only between bytecodes, so a C call that does
not return (a model load in native code, a lock) is never interrupted; the signal
method also needs the main thread and no other SIGALRM user (not under xdist
workers' own timers, not on Windows). With the core running each sync
``__init__``/hook in a daemon thread of its own, the event loop stays free: the
deadline's timer fires on time whatever the user's code does, the step's frame is
read from its thread, the test fails and the session goes on. The price: a thread
that never returns cannot be stopped in Python. It is left behind, as a daemon
thread that ends with the process, and the failure says so.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

import tiffin

if TYPE_CHECKING:
    from tiffin.lifespan import Step

# Frames from these places are plumbing; the frame worth naming is the user's.
_PLUMBING_DIRS = tuple(
    os.path.dirname(m.__file__ or "") + os.sep for m in (asyncio, threading, tiffin)
)
_PLUMBING_PACKAGES = tuple(
    f"{os.sep}{name}{os.sep}"
    for name in ("starlette", "anyio", "httpx", "httpx_ws", "fastapi", "asgi_lifespan")
)
_PLUMBING_FILES = tuple(
    os.path.join(os.path.dirname(os.__file__), name)
    for name in ("contextlib.py", "threading.py", "concurrent" + os.sep)
)


_TESTING_DIR = os.path.dirname(__file__) + os.sep
_SERVING_DIR = os.path.dirname(tiffin.__file__ or "") + os.sep
_SERVING_PACKAGES = tuple(f"{os.sep}{name}{os.sep}" for name in ("starlette", "fastapi", "anyio"))


def _serves(filename: str) -> bool:
    """Whether ``filename`` is the serving side of a request (the app, not the client)."""
    if filename.startswith(_SERVING_DIR):
        return not filename.startswith(_TESTING_DIR)
    return any(p in filename for p in _SERVING_PACKAGES)


def is_plumbing(filename: str) -> bool:
    return (
        filename.startswith(_PLUMBING_DIRS)
        or filename.startswith(_PLUMBING_FILES)
        or any(p in filename for p in _PLUMBING_PACKAGES)
    )


class DeadlineExceeded(AssertionError):
    """A lifespan phase or a request did not finish within its deadline."""


class WrongEventLoop(RuntimeError):
    """A client is used on an event loop other than the one that started its service."""


def describe_frames(frames: list[FrameType]) -> str:
    """``load() at tests/test_x.py:12``: the innermost frame outside asyncio, starlette, tiffin."""
    if not frames:
        return "an unknown place (no frames)"
    chosen = frames[-1]
    for frame in reversed(frames):
        if not is_plumbing(frame.f_code.co_filename):
            chosen = frame
            break
    return f"{chosen.f_code.co_name}() at {chosen.f_code.co_filename}:{chosen.f_lineno}"


def thread_frames(thread: threading.Thread) -> list[FrameType]:
    """The frames ``thread`` runs now, outermost first (empty once it has ended)."""
    frame = sys._current_frames().get(thread.ident or -1)
    frames: list[FrameType] = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames[::-1]


_FRAME_ATTRIBUTES = ("cr_frame", "gi_frame", "ag_frame")
_AWAITED_ATTRIBUTES = ("cr_await", "gi_yieldfrom", "ag_await")


def awaiting_frames(task: asyncio.Task[Any]) -> list[FrameType]:
    """The frames of ``task``'s await chain, outermost first (``get_stack`` stops at one)."""
    frames: list[FrameType] = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = next((getattr(awaited, a) for a in _FRAME_ATTRIBUTES if hasattr(awaited, a)), None)
        if frame is None:
            # An async generator's asend()/athrow() awaitable (``async with`` an
            # @asynccontextmanager) has no frame; the generator it drives is its referent.
            awaited = next((r for r in gc.get_referents(awaited) if hasattr(r, "ag_frame")), None)
            continue
        frames.append(frame)
        awaited = next(
            (getattr(awaited, a) for a in _AWAITED_ATTRIBUTES if getattr(awaited, a, None)),
            None,
        )
    return frames


def describe_task(task: asyncio.Task[Any]) -> str:
    """Where ``task`` waits: its innermost frame of user code, or the sync handler it awaits.

    A sync handler (a tiffin ``@api``, a FastAPI/Starlette route) runs in a worker
    thread while the task awaits it; the task's own chain then holds no user frame,
    and the busy worker threads say where the handler is.
    """
    frames = awaiting_frames(task)
    users = [i for i, f in enumerate(frames) if not is_plumbing(f.f_code.co_filename)]
    below = frames[users[-1] + 1 :] if users else frames
    if users and not any(_serves(f.f_code.co_filename) for f in below):
        return describe_frames(frames)  # the user's code itself waits (an async handler)
    # The innermost user frame (the test) awaits the app, which awaits a worker thread.
    handlers = busy_worker_threads()
    if handlers:
        return (
            f"a sync handler, blocked in {' or '.join(handlers)} (a thread cannot be stopped: "
            "it is left running until the handler returns)"
        )
    return describe_frames(frames)


def describe_step(step: Step | None, awaiting: asyncio.Task[Any]) -> str:
    """Which lifespan step hangs and where: ``on_startup hook 'load', blocked in load() at ...``.

    ``step`` is ``app.current_step`` (a ``tiffin.lifespan.Step`` or None); ``awaiting``
    the task awaiting the lifespan (an async hook runs in it).
    """
    if step is None:
        return describe_task(awaiting)
    thread, task = step.thread, step.task
    if thread is not None and thread.is_alive():
        return (
            f"{step.describe()}, blocked in {describe_frames(thread_frames(thread))} "
            f"(sync code, run in thread {thread.name!r}; a thread cannot be stopped, so it "
            "is left running as a daemon thread and ends with the test session)"
        )
    where = describe_task(task if task is not None and not task.done() else awaiting)
    return f"{step.describe()}, suspended in {where}"


# The worker threads sync handlers run in: tiffin's pool ("tiffin-<service>_<n>";
# a lifespan step's thread is "tiffin: <step>"), and anyio's (Starlette, FastAPI).
_WORKER_PREFIXES = ("tiffin-", "AnyIO worker thread")


def busy_worker_threads(limit: int = 3) -> list[str]:
    """Where worker threads now run user code: ``hello() at app.py:12 (thread 'tiffin-Svc_0')``."""
    found: list[str] = []
    for thread in threading.enumerate():
        if not thread.name.startswith(_WORKER_PREFIXES) or len(found) >= limit:
            continue
        frames = thread_frames(thread)
        if any(not is_plumbing(f.f_code.co_filename) for f in frames):
            found.append(f"{describe_frames(frames)} (thread {thread.name!r})")
    return found


@asynccontextmanager
async def deadline(
    seconds: float,
    what: str,
    *,
    describe: Callable[[asyncio.Task[Any]], str] = describe_task,
    watched: asyncio.Task[Any] | None = None,
    hint: str = "",
) -> AsyncIterator[None]:
    """Fail with ``DeadlineExceeded`` naming ``what`` and where it hung after ``seconds``.

    ``watched`` is the task whose stack says where it hung (default: this task).
    """
    task = asyncio.current_task()
    assert task is not None, "deadline() runs inside an asyncio task"
    found: list[str] = []

    def expire() -> None:
        found.append(describe(watched or task))
        task.cancel()

    timer = asyncio.get_running_loop().call_later(seconds, expire)
    try:
        yield
    except asyncio.CancelledError:
        if not found:
            raise
        task.uncancel()
        raise DeadlineExceeded(
            f"tiffin: {what} did not finish within {seconds:g}s; it hung in {found[0]}"
            + (f". {hint}" if hint else "")
        ) from None
    finally:
        timer.cancel()


class LoopGuard:
    """Remembers the loop a client started on; any use on another loop fails at once."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.loop = asyncio.get_running_loop()

    def check(self, doing: str) -> None:
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is self.loop:
            return
        raise WrongEventLoop(
            f"tiffin: {self.owner} started its service on event loop {id(self.loop):#x}, but "
            f"{doing} runs on event loop {id(current):#x}: a fixture on the wrong event loop "
            "(with pytest-asyncio, a fixture and the test that uses it have different loop "
            "scopes). Fix: create the client in the test itself, or run the test on the "
            "fixture's loop: @pytest.mark.asyncio(loop_scope='module') on the test for a "
            "@pytest_asyncio.fixture(scope='module', loop_scope='module')."
        )
