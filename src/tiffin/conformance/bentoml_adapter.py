"""The BentoML implementation adapter: the same checks, run against BentoML itself.

In-process, BentoML's own ``Svc.to_asgi()`` runs through tiffin's harness
(``tiffin.testing.bentoml``); over the socket, a real ``bentoml serve``.
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
from tiffin.conformance.facts import ServiceFacts, facts_of_service
from tiffin.conformance.implementations import Difference, Implementation
from tiffin.conformance.spec import SPEC_ENV, ServiceSpec

SERVED = "tiffin.conformance.bentoml_served:Reference"
# bentoml serve is ready in ~4 s here; one whose startup failed does not exit: it times out.
STARTUP_SECONDS = 20.0
INPROCESS = frozenset({"inprocess"})
STARTED_APPS = frozenset({"fastapi", "starlette", "quart"})  # BentoML runs their lifespans
APP_PY = "_bentoml_impl/server/app.py"
SDK_SERVICE = "_bentoml_sdk/service"
CONTRACT = "CONTRACT.md, Deliberate differences"
NO_BARE_LIFESPAN = (
    "a bare ASGI mount gets no lifespan: BentoML starts only Starlette-based and Quart apps"
)
NO_BARE_LIFESPAN_EVIDENCE = f"{APP_PY}: `else: pass  # TODO: support other ASGI apps`"


def _differ(
    check: str, behaviour: str, evidence: str, frameworks: Any = None, transports: Any = None
) -> Difference:
    return Difference(
        check,
        behaviour,
        evidence,
        None if frameworks is None else frozenset(frameworks),
        None if transports is None else frozenset(transports),
    )


# Observed by running these checks against BentoML 1.4.40; the evidence says where.
DIFFERENCES: tuple[Difference, ...] = (
    _differ(
        "API-009",
        'a 4xx raised by user code answers with a JSON array [{"error": ...}]',
        f'{APP_PY}: `detail = ({{"error": str(exc)}},)`; {CONTRACT}',
    ),
    _differ(
        "CON-002",
        "429 without Retry-After",
        f"bentoml/_internal/server/http/traffic.py MaxConcurrencyMiddleware; {CONTRACT}",
    ),
    _differ(
        "CON-004",
        "probes under a path_prefix (/pp/healthz, /pp/metrics) are throttled",
        f"traffic.py exempts the unprefixed probe paths only; {CONTRACT}",
    ),
    _differ(
        "LIF-009",
        "under bentoml serve, a worker whose mounted startup failed is started again and "
        "again (on_startup, on_shutdown, repeated); the server never exits",
        "observed: four on_startup/on_shutdown pairs within the 20 s startup deadline",
        frameworks=STARTED_APPS,
        transports={"socket"},
    ),
    _differ(
        "CON-007",
        "a timed-out sync API frees its slot while its thread runs on",
        f"observed: 200 instead of 429 while the thread sleeps; {CONTRACT}",
    ),
    _differ(
        "INF-007",
        "/metrics labels requests by raw path (/v1/items/4242)",
        f"instruments.py labels `endpoint` with the request path; {CONTRACT}",
        frameworks=STARTED_APPS,
    ),
    _differ(
        "INF-010",
        "no /docs page: BentoML's Swagger UI is its index page at /",
        f'{APP_PY}: `app.add_route(build_path("/"), self.index_page)`, no /docs route',
    ),
    _differ(
        "INJ-001",
        "class-body routes get self for FastAPI only; this one answers 500",
        CONTRACT,
        frameworks={"quart", "starlette"},
    ),
    _differ(
        "INJ-002",
        "class-body routes get self for FastAPI only; this one answers 500",
        CONTRACT,
        frameworks={"quart", "starlette"},
    ),
    _differ(
        "INJ-011",
        "a websocket route in a Starlette app's class body never gets self: the connection hangs",
        "observed: no message within the deadline",
        frameworks={"starlette"},
    ),
    _differ(
        "INJ-007",
        "get_current_service() raises in on_startup hooks (service isn't instantiated yet)",
        f"{APP_PY}: set_current_service() runs after the hooks",
    ),
    _differ("INJ-008", NO_BARE_LIFESPAN, NO_BARE_LIFESPAN_EVIDENCE, frameworks={"asgi"}),
    _differ(
        "INJ-009",
        "get_current_service() is one process global: a second service cannot "
        "run in the same process",
        f"_bentoml_sdk: a module-level current service; {CONTRACT}",
        transports=INPROCESS,
    ),
    _differ("LIF-001", NO_BARE_LIFESPAN, NO_BARE_LIFESPAN_EVIDENCE, frameworks={"asgi"}),
    _differ("LIF-002", NO_BARE_LIFESPAN, NO_BARE_LIFESPAN_EVIDENCE, frameworks={"asgi"}),
    _differ("LIF-003", NO_BARE_LIFESPAN, NO_BARE_LIFESPAN_EVIDENCE, frameworks={"asgi"}),
    _differ(
        "LIF-009",
        NO_BARE_LIFESPAN + " (so its failure goes unseen)",
        NO_BARE_LIFESPAN_EVIDENCE,
        frameworks={"asgi"},
    ),
    _differ(
        "LIF-004",
        "state yielded by a mounted app's lifespan is dropped",
        f"observed: request.state has no value; {CONTRACT}",
    ),
    _differ(
        "LIF-005",
        "an app mounted twice starts twice (a bare ASGI app: never)",
        f"observed: 2 startups; {CONTRACT}",
    ),
    _differ(
        "LIF-006",
        "a failed mounted startup is reported without the mount path "
        "(a bare ASGI app's is not seen at all)",
        "observed: 'failed to start: RuntimeError: ... startup failed on purpose', no '/v1'",
    ),
    _differ(
        "PFX-005",
        "a request under /v1/deep does not reach the app mounted at /v1/deep "
        "(404 from the app at /v1)",
        "observed: GET /v1/deep/scope -> 404",
        frameworks={"quart", "asgi"},
    ),
    _differ(
        "PFX-006",
        "a miss under a mount prefix gets BentoML's plain-text 404, not the app's",
        CONTRACT,
        frameworks={"fastapi", "starlette"},
    ),
    _differ(
        "TMO-006",
        "a timed-out Quart handler is not cancelled: it runs to its end",
        "observed: no cancellation within 10 s of the 504",
        frameworks={"quart"},
    ),
    _differ(
        "LIF-010",
        "on_startup hooks run in alphabetical order of their names, not definition order",
        f"{APP_PY}: `for name in dir(self.service.inner)` finds the hooks",
    ),
    _differ(
        "CON-009",
        "sync APIs run one at a time unless threads= is set: the pool is one thread wide",
        f'{APP_PY}: `threads = self.service.config.get("threads", 1)`',
    ),
    _differ(
        "DEF-001",
        "an unknown traffic key is accepted silently (a typo such as 'timeuot' is ignored)",
        f"{SDK_SERVICE}/factory.py: `config = kwargs`, unchecked; "
        f"{SDK_SERVICE}/config.py: TrafficSchema is a TypedDict",
    ),
    _differ(
        "DEF-002",
        "an unknown resources key is accepted silently",
        f"{SDK_SERVICE}/factory.py: `config = kwargs`, unchecked",
    ),
    _differ(
        "DEF-003",
        "a mount path that is not a string fails with an AttributeError naming neither "
        "the service nor the path",
        "observed: \"AttributeError: 'int' object has no attribute 'lstrip'\"",
    ),
    _differ(
        "DEF-004",
        "add_asgi_middleware accepts anything; the mistake shows only when the app is built",
        f"{SDK_SERVICE}/factory.py: add_asgi_middleware appends without a check",
    ),
    _differ(
        "DEP-002",
        "outside bentoml serve a dependency is a plain instance of its class, made when the "
        "attribute is first read: its on_startup and on_shutdown hooks never run (under "
        "bentoml serve it is a process of its own, started beside the dependent)",
        f"{SDK_SERVICE}/dependency.py: `Dependency.get` returns `self.on()` when no runner "
        "mapping names the service; observed: ['Dependent __init__', 'Dependent on_shutdown']",
    ),
)


class BentoMLImplementation(Implementation):
    name = "bentoml"
    module_name = "bentoml"
    differences = DIFFERENCES

    def __init__(self) -> None:
        self.pool = ServerPool()

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("bentoml") is None:
            return "bentoml is not installed (pip install 'tiffin[bentoml]')"
        return None

    def serves_objects(self, transport: str) -> bool:
        return transport == "inprocess"  # `bentoml serve` imports module:Service

    def owns(self, service: Any) -> bool:
        from tiffin.testing.bentoml import is_bentoml_service

        return is_bentoml_service(service)

    def serve_service(self, service: Any, transport: str) -> Any:
        from tiffin.testing import ServiceClient
        from tiffin.testing.bentoml import BentoMLServer

        if transport == "inprocess":
            # The checks read what the server answers (a 500 included): never re-raised.
            return ServiceClient(service, raise_server_exceptions=False)
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
        return facts_of_service(prefix, mounts, apis, trusted, root_claimed)

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

        if spec.extra.get("fresh"):
            server = _server(spec)
            async with _served_client(server) as client:
                yield client
            return
        key = replace(spec, events_path="").to_json()
        if key not in self.servers:
            if self.folder is None:
                self.folder = Path(tempfile.mkdtemp(prefix="tiffin-bentoml-pool-"))
            events = self.folder / f"events-{len(self.servers)}.log"
            server = _server(replace(spec, events_path=str(events)))
            try:
                await asyncio.to_thread(server.start)
            except Exception:
                if events.exists():  # what the failed startup recorded, for the check
                    shutil.copy(events, spec.events_path)
                raise
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


def _server(spec: ServiceSpec) -> Any:
    from tiffin.testing.bentoml import BentoMLServer

    host = {"host": spec.allowed_host} if spec.allowed_host else None
    env = {SPEC_ENV: spec.to_json()}
    return BentoMLServer(
        SERVED,
        env=env,
        startup_timeout=STARTUP_SECONDS,
        ready_headers=host,
        ready_path=spec.prefixed("/readyz"),
    )


def _restart_log(log: EventLog) -> None:
    """Keep the server's lifespan steps; drop what earlier checks' requests recorded."""
    lifecycle = [
        line
        for line in log.read()
        if line.startswith(("__init__", "on_startup", "startup hook", "on_shutdown"))
        or line.endswith(("shutdown",))
        or " startup current=" in line
    ]
    log.path.write_text("".join(f"{line}\n" for line in lifecycle))
