"""The harness's settings: the transport and the deadlines (options, ini keys, defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Transport = Literal["inprocess", "live"]
TRANSPORTS: tuple[Transport, ...] = ("inprocess", "live")


@dataclass(frozen=True)
class HarnessSettings:
    """Deadlines and the default transport (from options, ini keys, or defaults)."""

    transport: Transport = "inprocess"
    startup_timeout: float = 10.0
    shutdown_timeout: float = 10.0
    request_timeout: float = 30.0
