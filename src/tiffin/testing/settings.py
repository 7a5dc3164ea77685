"""The harness's settings: the transport, the live server's scope, the deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Transport = Literal["inprocess", "live"]
TRANSPORTS: tuple[Transport, ...] = ("inprocess", "live")
LiveScope = Literal["function", "module", "session"]
LIVE_SCOPES: tuple[LiveScope, ...] = ("function", "module", "session")


@dataclass(frozen=True)
class HarnessSettings:
    """Deadlines, the default transport and how long a live server is shared."""

    transport: Transport = "inprocess"
    startup_timeout: float = 10.0
    shutdown_timeout: float = 10.0
    request_timeout: float = 30.0
    # "module"/"session": one live server per service (and overrides) for the module or
    # the session, a fresh client per test; "function": a server per test.
    live_scope: LiveScope = "function"
