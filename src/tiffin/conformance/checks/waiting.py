"""Waiting for an event the service records, bounded: a check never hangs."""

from __future__ import annotations

import asyncio

from tiffin.conformance.events import EventLog
from tiffin.conformance.registry import CheckFailed

WAIT_SECONDS = 10.0


async def until_recorded(
    events: EventLog | None, event: str, seconds: float = WAIT_SECONDS
) -> None:
    assert events is not None, "only the reference service records events"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while event not in events.read():
        if loop.time() > deadline:
            raise CheckFailed(
                f"the service did not record {event!r} within {seconds:g}s; "
                f"it recorded {events.read()}"
            )
        await asyncio.sleep(0.01)
