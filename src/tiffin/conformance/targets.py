"""What a check talks to: a running service, the facts about it, and its event log.

A ``CheckContext`` starts services for one check. A ``ReferenceContext`` builds
the reference service (changed as the check's rule needs) with an
implementation; a ``ServiceContext`` runs a user's own service as it is.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from tiffin.conformance.events import EventLog
from tiffin.conformance.facts import ServiceFacts, facts_of_spec
from tiffin.conformance.implementations import Implementation, implementation_for
from tiffin.conformance.registry import CheckFailed
from tiffin.conformance.spec import ServiceSpec

WEBSOCKET_SECONDS = 10.0


@dataclass
class Served:
    """A service that is running (or ran) for one check."""

    client: httpx.AsyncClient
    facts: ServiceFacts
    spec: ServiceSpec | None
    events: EventLog | None

    async def websocket_json(self, path: str) -> Any:
        """Connect to a websocket route and return the first JSON message it sends."""
        from httpx_ws import AsyncWebSocketSession, aconnect_ws

        async def first_message() -> Any:
            ws: AsyncWebSocketSession
            async with aconnect_ws(path, self.client) as ws:
                return json.loads(await ws.receive_text())

        try:  # bounded: a websocket that never answers fails the check, not the run
            return await asyncio.wait_for(first_message(), WEBSOCKET_SECONDS)
        except TimeoutError:
            raise CheckFailed(
                f"no message on the websocket {path} within {WEBSOCKET_SECONDS:g}s"
            ) from None


class CheckContext:
    facts: ServiceFacts

    def serve(self, **changes: Any) -> Any:  # an async context manager of Served
        raise NotImplementedError

    def api_module(self) -> ModuleType:
        """The module services are written with (``tiffin`` or ``bentoml``), for checks of
        what happens when a service is defined."""
        raise TypeError("only the reference run defines services of its own")


class ReferenceContext(CheckContext):
    """The reference service for one (implementation, framework, transport)."""

    def __init__(self, implementation: Implementation, framework: str, transport: str) -> None:
        self.implementation = implementation
        self.framework = framework
        self.transport = transport
        self.facts = facts_of_spec(ServiceSpec(framework))
        self.last_events: EventLog | None = None  # kept after the service stopped or failed

    def api_module(self) -> ModuleType:
        return self.implementation.module()

    @asynccontextmanager
    async def serve(self, **changes: Any) -> AsyncIterator[Served]:
        with tempfile.TemporaryDirectory(prefix="tiffin-conformance-") as folder:
            events = self.last_events = EventLog(Path(folder) / "events.log")
            spec = ServiceSpec(self.framework, events_path=str(events.path)).changed(**changes)
            facts = facts_of_spec(spec)
            try:
                async with self.implementation.serve(spec, self.transport) as client:
                    if facts.allowed_host:
                        client.headers["host"] = facts.allowed_host
                    yield Served(client, facts, spec, events)
            finally:
                events.freeze()


class ServiceContext(CheckContext):
    """A user's own service, run as it is by the implementation it was written for."""

    def __init__(self, service: Any, transport: str) -> None:
        self.service = service
        self.transport = transport
        self.implementation = implementation_for(service)
        self.facts = self.implementation.facts(service)

    @asynccontextmanager
    async def serve(self, **changes: Any) -> AsyncIterator[Served]:
        if changes:
            raise TypeError(f"a user's service cannot be changed by a check (asked for {changes})")
        async with self.implementation.serve_service(self.service, self.transport) as client:
            if self.facts.allowed_host:
                client.headers["host"] = self.facts.allowed_host
            yield Served(client, self.facts, None, None)
