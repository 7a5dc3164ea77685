"""tiffin's test harness: run a service in-process or live and talk to it with httpx.

The pytest plugin (``tiffin.testing.plugin``, entry point ``tiffin``) wraps
these in fixtures; they work without pytest too::

    async with ServiceClient(MyService, streaming=True) as client:   # a TiffinAsyncClient
        ...
    with ServiceClient(MyService) as client:                          # a TiffinClient
        client.call("summarize", text="...")
"""

import importlib
from typing import TYPE_CHECKING, Any

from tiffin.extras import is_missing_test_extra, missing_test_extra
from tiffin.testing.live import LiveServer
from tiffin.testing.loops import DeadlineExceeded, WrongEventLoop
from tiffin.testing.settings import HarnessSettings

if TYPE_CHECKING:
    from tiffin.testing.calls import APIError, TiffinAsyncClient, TiffinClient
    from tiffin.testing.factory import ServiceClient
    from tiffin.testing.transport import InProcessTransport

__all__ = [
    "APIError",
    "DeadlineExceeded",
    "HarnessSettings",
    "InProcessTransport",
    "LiveServer",
    "ServiceClient",
    "TiffinAsyncClient",
    "TiffinClient",
    "WrongEventLoop",
]

# Imported on first use: they need httpx (the test extra), and the pytest plugin, which
# lives in this package, must load in a project that installed tiffin alone.
_NEED_HTTPX = {
    "APIError": "tiffin.testing.calls",
    "TiffinAsyncClient": "tiffin.testing.calls",
    "TiffinClient": "tiffin.testing.calls",
    "InProcessTransport": "tiffin.testing.transport",
    "ServiceClient": "tiffin.testing.factory",
}


def __getattr__(name: str) -> Any:
    module = _NEED_HTTPX.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        value = getattr(_importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if not _is_missing_test_extra(exc):
            raise
        message = _missing_test_extra(f"tiffin.testing.{name}", exc)
        raise ModuleNotFoundError(f"tiffin: {message}", name=exc.name) from exc
    globals()[name] = value
    return value


# Beside ``__all__`` only submodules are public attributes (an import makes them so);
# the helpers imported above are kept under private names (tests/testing/test_public_surface.py).
_importlib = importlib
_is_missing_test_extra, _missing_test_extra = is_missing_test_extra, missing_test_extra
del importlib, is_missing_test_extra, missing_test_extra, TYPE_CHECKING, Any
