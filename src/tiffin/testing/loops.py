"""Deadlines and event-loop checks: a hung or misplaced test fails at once, saying why.

A deadline is a timer on the running loop. When it fires it first records where
the awaited task is suspended (the innermost frame of user code, or the mounted
app whose lifespan never answered), then cancels the task, so the error names
what hung instead of reporting a bare timeout.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

import tiffin

if TYPE_CHECKING:
    from tiffin.lifespan import Step

# Frames from these places are plumbing; the frame worth naming is the user's.
_PLUMBING_DIRS = tuple(os.path.dirname(m.__file__ or "") + os.sep for m in (asyncio, tiffin))
_PLUMBING_PACKAGES = tuple(
    f"{os.sep}{name}{os.sep}" for name in ("starlette", "anyio", "httpx", "httpx_ws", "fastapi")
)


def _is_plumbing(filename: str) -> bool:
    return filename.startswith(_PLUMBING_DIRS) or any(p in filename for p in _PLUMBING_PACKAGES)


class DeadlineExceeded(AssertionError):
    """A lifespan phase or a request did not finish within its deadline."""


class WrongEventLoop(RuntimeError):
    """A client is used on an event loop other than the one that started its service."""


def describe_frames(frames: list[FrameType]) -> str:
    """``load() at tests/test_x.py:12``: the innermost frame outside asyncio, starlette, tiffin."""
    if not frames:
        return "an unknown place (the task holds no frames)"
    chosen = frames[-1]
    for frame in reversed(frames):
        if not _is_plumbing(frame.f_code.co_filename):
            chosen = frame
            break
    return f"{chosen.f_code.co_name}() at {chosen.f_code.co_filename}:{chosen.f_lineno}"


_FRAME_ATTRIBUTES = ("cr_frame", "gi_frame", "ag_frame")


def awaiting_frames(task: asyncio.Task[Any]) -> list[FrameType]:
    """The frames of ``task``'s await chain, outermost first (``get_stack`` stops at one)."""
    frames: list[FrameType] = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = next((getattr(awaited, a) for a in _FRAME_ATTRIBUTES if hasattr(awaited, a)), None)
        if frame is None:
            # An async generator's asend() has no frame; contextlib keeps the generator.
            owner = frames[-1].f_locals.get("self") if frames else None
            generator = getattr(owner, "gen", None)
            if generator is None or generator is awaited or not hasattr(generator, "ag_frame"):
                break
            awaited = generator
            continue
        frames.append(frame)
        awaited = next(
            (
                getattr(awaited, a)
                for a in ("cr_await", "gi_yieldfrom", "ag_await")
                if getattr(awaited, a, None) is not None
            ),
            None,
        )
    return frames


def describe_task(task: asyncio.Task[Any]) -> str:
    return describe_frames(awaiting_frames(task))


def describe_step(step: Step | None, task: asyncio.Task[Any]) -> str:
    """Where a startup or shutdown hangs: the step the core reports, and the user's frame in it.

    A sync step runs in a thread of its own (its frames come from that thread); a
    mounted app's lifespan runs in a task of its own; an async hook runs in ``task``.
    """
    if step is None:
        return describe_task(task)
    if step.thread is not None and step.thread.is_alive():
        frame = sys._current_frames().get(step.thread.ident or -1)
        frames = _stack_of(frame)
        where = describe_frames(frames)
        return f"{step.describe()}, blocked in {where} (a sync step: its thread is left running)"
    if step.task is not None and not step.task.done():
        return f"{step.describe()}, suspended in {describe_task(step.task)}"
    return f"{step.describe()}, suspended in {describe_task(task)}"


def _stack_of(frame: FrameType | None) -> list[FrameType]:
    frames: list[FrameType] = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    frames.reverse()
    return frames


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
            "scopes). Fix: give them one loop scope, e.g. "
            "@pytest_asyncio.fixture(loop_scope='module') together with "
            "@pytest.mark.asyncio(loop_scope='module'), or create the client in the test itself."
        )
