"""``@on_startup`` and ``@on_shutdown``: mark methods the lifespan runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tiffin.exceptions import BentoMLConfigException

HOOK_MARK = "__tiffin_hook__"

_Func = TypeVar("_Func", bound=Callable[..., Any])


def _mark(kind: str) -> Callable[[_Func], _Func]:
    def decorator(func: _Func) -> _Func:
        if not callable(func):
            raise BentoMLConfigException(
                f"@on_{kind} decorates a method of a service class, got {func!r}"
            )
        setattr(func, HOOK_MARK, kind)
        return func

    return decorator


on_startup = _mark("startup")
on_startup.__doc__ = "Run this method (sync or async) after ``__init__``, before serving."
on_shutdown = _mark("shutdown")
on_shutdown.__doc__ = "Run this method (sync or async) at shutdown, also after a failed startup."


def on_deployment(func: Callable[..., Any] | staticmethod[..., Any]) -> staticmethod[..., Any]:
    """Run this function once before the service's workers start (``tiffin serve``, the harness).

    As in BentoML it takes no ``self`` and becomes a static method: it runs
    before any instance exists, once per deployment however many workers serve.
    """
    inner = func.__func__ if isinstance(func, staticmethod) else func
    if not callable(inner):
        raise BentoMLConfigException(
            f"@on_deployment decorates a function in a service class, got {func!r}"
        )
    setattr(inner, HOOK_MARK, "deployment")
    return func if isinstance(func, staticmethod) else staticmethod(inner)
