"""How a harness failure reads in a test report: short, the cause, the user's frames only.

A harness error (a wrong marker or override, a startup that failed or hung) is
shown as a short pytest failure (``pytest.fail(..., pytrace=False)``), never as
40 lines of plugin traceback. A startup failure keeps what the user needs from
its traceback: the frames of the user's code (file, line, source), without the
frames of tiffin, asyncio, Starlette or BentoML.
"""

from __future__ import annotations

import os
import traceback

from tiffin.exceptions import StartupError
from tiffin.testing.loops import DeadlineExceeded, WrongEventLoop, is_plumbing

_BENTOML_DIRS = tuple(
    f"{os.sep}{name}{os.sep}" for name in ("bentoml", "_bentoml_sdk", "_bentoml_impl")
)


class HarnessUsageError(TypeError):
    """The harness was asked for something it cannot do (an unknown override, a wrong object)."""


# What the fixtures turn into a short failure; any other exception is the user's own.
HARNESS_ERRORS: tuple[type[BaseException], ...] = (
    StartupError,
    DeadlineExceeded,
    HarnessUsageError,
    WrongEventLoop,
)


def _is_users(filename: str) -> bool:
    return not is_plumbing(filename) and not any(d in filename for d in _BENTOML_DIRS)


def user_traceback(exc: BaseException) -> str:
    """``exc``'s traceback through the user's frames only, ending with its type and message."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_users(f.filename)]
    lines = traceback.format_list(frames)
    lines.extend(traceback.format_exception_only(type(exc), exc))
    return "".join(lines).rstrip("\n")


def short_failure(exc: BaseException) -> str:
    """The report of a harness error: its message, then the user's frames of its cause."""
    message = str(exc)
    if not message.startswith("tiffin:"):
        message = f"tiffin: {message}"
    cause = exc.__cause__
    if cause is None or cause.__traceback__ is None:
        return message
    return f"{message}\n\nThe cause, in your code (most recent call last):\n{user_traceback(cause)}"
