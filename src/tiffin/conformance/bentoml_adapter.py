"""The BentoML implementation adapter: the same checks, run against BentoML itself.

In-process, BentoML's own ``Svc.to_asgi()`` runs through tiffin's harness
(``tiffin.testing.bentoml_support``); over the socket, a real ``bentoml serve``.
``bentoml serve`` takes seconds to start, so servers of the same spec are kept for
the run and reused; each check then sees only its own events.

``DIFFERENCES`` is the one table of where BentoML 1.4.x breaks the contract: each
entry is an expected, strict failure, so a run fails when BentoML starts to pass it.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from tiffin.conformance.events import EventLog
from tiffin.conformance.facts import ServiceFacts
from tiffin.conformance.implementations import Difference, Implementation
from tiffin.conformance.spec import ServiceSpec

SPEC_ENV = "TIFFIN_CONFORMANCE_SPEC"
SERVED = "tiffin.conformance.bentoml_served:Reference"
ALL = None

DIFFERENCES: tuple[Difference, ...] = ()


class BentoMLImplementation(Implementation):
    name = "bentoml"
    differences = DIFFERENCES

    def __init__(self) -> None:
        self.pool = ServerPool()

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("bentoml") is None:
            return "bentoml is not installed (pip install 'tiffin[bentoml]')"
        return None

    def owns(self, service: Any) -> bool:
        from tiffin.testing.bentoml_support import is_bentoml_service

        return is_bentoml_service(service)

    def build(self, spec: ServiceSpec) -> Any:
        import bentoml

        from tiffin.conformance.reference import build_reference_service

        return build_reference_service(spec, bentoml)

    def serve_service(self, service: Any, transport: str) -> Any:
        from tiffin.testing.bentoml_support import BentoMLServer, BentoMLServiceClient

        if transport == "inprocess":
            return BentoMLServiceClient(service)
        return _served_client(BentoMLServer(service))

    def facts(self, service: Any) -> ServiceFacts:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        prefix = getattr(service, "path_prefix", "") or ""
        mounts = tuple(prefix + (path.rstrip("/") or "/") for _, path, _ in service.mount_apps)
        apis = tuple(prefix + method.route for method in service.apis.values())
        trusted = (
            next(
                (
                    m.options.get("allowed_hosts")
                    for m in service.middlewares
                    if m.cls is TrustedHostMiddleware
                ),
                None,
            )
            if hasattr(service, "middlewares")
            else None
        )
        root_claimed = any(path in ("", "/") for _, path, _ in service.mount_apps)
        capabilities = {
            name
            for name, present in (
                ("apis", apis),
                ("mounts", mounts),
                ("trusted_host", trusted),
                ("misses", not root_claimed),
            )
            if present
        }
        return ServiceFacts(
            prefix, mounts, apis, tuple(trusted) if trusted else None, frozenset(capabilities)
        )

    @asynccontextmanager
    async def serve(self, spec: ServiceSpec, transport: str) -> AsyncIterator[httpx.AsyncClient]:
        if transport == "inprocess":
            async with super().serve(spec, transport) as client:
                yield client
            return
        async with self.pool.client(spec) as client:
            yield client


@asynccontextmanager
async def _served_client(server: Any) -> AsyncIterator[httpx.AsyncClient]:
    url = await asyncio.to_thread(server.start)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield client
    finally:
        await asyncio.to_thread(server.stop)


class ServerPool:
    """``bentoml serve`` per spec, started on first use and stopped when the process exits.

    A check that must stop its server (it reads shutdown events) or run two at once
    asks for a server of its own with ``extra={"fresh": True}``.
    """

    def __init__(self) -> None:
        self.servers: dict[str, tuple[Any, Path]] = {}  # spec -> server, its event log
        self.folder: Path | None = None
        atexit.register(self.close)

    @asynccontextmanager
    async def client(self, spec: ServiceSpec) -> AsyncIterator[httpx.AsyncClient]:
        from tiffin.testing.bentoml_support import BentoMLServer

        if spec.extra.get("fresh"):
            server = BentoMLServer(SERVED, env={SPEC_ENV: spec.to_json()})
            async with _served_client(server) as client:
                yield client
            return
        key = replace(spec, events_path="").to_json()
        if key not in self.servers:
            if self.folder is None:
                self.folder = Path(tempfile.mkdtemp(prefix="tiffin-bentoml-pool-"))
            events = self.folder / f"events-{len(self.servers)}.log"
            env = {SPEC_ENV: replace(spec, events_path=str(events)).to_json()}
            server = BentoMLServer(SERVED, env=env)
            await asyncio.to_thread(server.start)
            self.servers[key] = (server, events)
        server, events = self.servers[key]
        _restart_log(EventLog(events))
        os.symlink(events, spec.events_path)  # the check reads the server's log as its own
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            yield client

    def close(self) -> None:
        servers, self.servers = list(self.servers.values()), {}
        for server, _ in servers:
            server.stop()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def _restart_log(log: EventLog) -> None:
    """Keep the server's lifespan steps; drop what earlier checks' requests recorded."""
    lifecycle = [
        line
        for line in log.read()
        if line.startswith(("__init__", "on_startup", "on_shutdown"))
        or line.endswith(("shutdown",))
        or " startup current=" in line
    ]
    log.path.write_text("".join(f"{line}\n" for line in lifecycle))
