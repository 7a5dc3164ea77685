"""Implementation adapters: how to define the reference service with an implementation and run it.

tiffin is the first implementation; another one (BentoML itself) subclasses
``Implementation`` and declares where it differs from the contract, check by check.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpx

from tiffin.conformance.facts import ServiceFacts, facts_of_service
from tiffin.conformance.spec import ALL_TRANSPORTS, SERVER_TRANSPORTS, TRANSPORTS, ServiceSpec


@dataclass(frozen=True)
class Difference:
    """Where an implementation is known to break a check's rule: an expected, strict failure."""

    check: str
    behaviour: str  # what the implementation does instead
    evidence: str  # an issue, a source line, or the observation that showed it
    frameworks: frozenset[str] | None = None  # None: every framework
    transports: frozenset[str] | None = None  # None: every transport

    def covers(self, framework: str, transport: str) -> bool:
        return (self.frameworks is None or framework in self.frameworks) and (
            self.transports is None or transport in self.transports
        )


class Implementation:
    name: str = ""
    module_name: str = ""  # the module a user imports to write a service (`tiffin`, `bentoml`)
    transports: tuple[str, ...] = TRANSPORTS  # what it can be run over (spec.ALL_TRANSPORTS)
    differences: tuple[Difference, ...] = ()

    def module(self) -> ModuleType:
        """The module a user writes services with, imported only when a check needs it."""
        return importlib.import_module(self.module_name)

    def unavailable(self) -> str | None:
        """Why this implementation cannot run here (not installed), or None."""
        return None

    def owns(self, service: Any) -> bool:
        raise NotImplementedError

    def serves_objects(self, transport: str) -> bool:
        """Whether ``serve_service`` takes a service object over ``transport`` (a check's own
        service); not where a server process imports ``module:Service``."""
        return True

    def build(self, spec: ServiceSpec) -> Any:
        """The reference service defined with this implementation."""
        from tiffin.conformance.reference import build_reference_service

        return build_reference_service(spec, self.module())

    def serve_service(self, service: Any, transport: str) -> Any:
        """``async with impl.serve_service(service, transport) as client``, then stopped."""
        raise NotImplementedError

    def facts(self, service: Any) -> ServiceFacts:
        raise NotImplementedError

    @asynccontextmanager
    async def serve(self, spec: ServiceSpec, transport: str) -> AsyncIterator[httpx.AsyncClient]:
        async with self.serve_service(self.build(spec), transport) as client:
            yield client

    def difference(self, check: str, framework: str, transport: str) -> Difference | None:
        return next(
            (d for d in self.differences if d.check == check and d.covers(framework, transport)),
            None,
        )


# Where tiffin served by Hypercorn or Granian breaks a check's rule (the server's doing,
# not tiffin's): observed by running the suite's server columns; each names its evidence.
SERVER_DIFFERENCES: tuple[Difference, ...] = ()


class TiffinImplementation(Implementation):
    name = "tiffin"
    module_name = "tiffin"
    transports = ALL_TRANSPORTS
    differences = SERVER_DIFFERENCES

    def owns(self, service: Any) -> bool:
        from tiffin.service import Service

        return isinstance(service, Service)

    def serve_service(self, service: Any, transport: str) -> Any:
        from tiffin.testing import ServiceClient

        # The checks read what the server answers (a 500 included): never re-raised.
        if transport == "inprocess":
            return ServiceClient(service, transport="inprocess", raise_server_exceptions=False)
        if transport == "socket":  # the harness's own live transport: uvicorn
            return ServiceClient(service, transport="live", raise_server_exceptions=False)
        return served_by(service.to_asgi(), SERVER_TRANSPORTS[transport])

    def facts(self, service: Any) -> ServiceFacts:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        prefix = service.config.path_prefix
        mounts = tuple(prefix + mount.path.rstrip("/") or "/" for mount in service.mounts)
        apis = tuple(prefix + route for route in service.apis)
        trusted = next(
            (
                opts.get("allowed_hosts")
                for cls, opts in service.middlewares
                if cls is TrustedHostMiddleware
            ),
            None,
        )
        root_claimed = any(mount.path == "/" for mount in service.mounts)
        return facts_of_service(prefix, mounts, apis, trusted, root_claimed)


@asynccontextmanager
async def served_by(app: Any, server: str) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` served over a loopback socket by the named ASGI server, and a client of it."""
    import asyncio

    from tiffin.testing.live import LiveServer

    live = LiveServer(app, server=server)
    url = await asyncio.to_thread(live.start)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield client
    finally:
        await asyncio.to_thread(live.stop)


def implementations() -> dict[str, Implementation]:
    """Every implementation adapter tiffin knows, by name (built once a process)."""
    return dict(_adapters())


@functools.cache
def _adapters() -> dict[str, Implementation]:
    # Cached: an adapter may hold servers for the whole run (BentoML's pool, stopped at exit).
    found: dict[str, Implementation] = {"tiffin": TiffinImplementation()}
    try:  # the BentoML adapter is written against bentoml, imported only when it runs
        adapter = importlib.import_module("tiffin.conformance.bentoml_adapter")
    except ModuleNotFoundError as exc:
        if exc.name != "tiffin.conformance.bentoml_adapter":
            raise
    else:
        found["bentoml"] = adapter.BentoMLImplementation()
    # tiffin on Ray Serve: available where tiffin[ray] is installed.
    from tiffin.conformance.ray_adapter import RayImplementation

    found["tiffin-ray"] = RayImplementation()
    return found


def implementation_for(service: Any) -> Implementation:
    for implementation in implementations().values():
        if implementation.unavailable() is None and implementation.owns(service):
            return implementation
    raise TypeError(
        f"not a service tiffin can run: {service!r}. Pass the object @tiffin.service "
        "(or @bentoml.service, with tiffin[bentoml] installed) returned."
    )
