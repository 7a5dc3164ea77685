"""The ``tiffin-ray`` implementation adapter: tiffin's reference service on Ray Serve.

One local Ray serves the whole run (``tiffin.testing.ray.LocalRay``, started on
first use and stopped when the process exits). The reference service is
deployed as Ray Serve's application at ``/`` with one replica, which imports it
from ``tiffin.conformance.ray_served`` (the spec in its ``runtime_env``), and
checks talk to it through Ray's HTTP proxy: the socket transport only.

Deploying takes seconds, so the deployment of a spec is kept while the checks
that follow use the same spec; each check then sees only its own events. A
check that needs a service of its own (``extra={"fresh": True}``) gets a new
deployment, at ``/`` unless another fresh one holds it (INJ-009 runs two).

``DIFFERENCES`` is where tiffin on Ray Serve breaks the contract, with evidence;
each is an expected, strict failure.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import itertools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tiffin.conformance.events import EventLog
from tiffin.conformance.facts import ServiceFacts
from tiffin.conformance.implementations import Difference, Implementation, TiffinImplementation
from tiffin.conformance.spec import SPEC_ENV, ServiceSpec

if TYPE_CHECKING:
    from tiffin.testing.ray import LocalRay

SERVED = "tiffin.conformance.ray_served:Reference"
APP = "reference"
CLIENT_TIMEOUT = 30.0
REPLICA_OPTIONS: dict[str, Any] = {
    "max_constructor_retry_count": 1,  # a failed startup is reported at once, not retried
    "health_check_period_s": 2,
}
LIFECYCLE_PREFIXES = ("__init__", "on_startup", "startup hook", "on_shutdown")

DIFFERENCES: tuple[Difference, ...] = ()


class RayImplementation(Implementation):
    name = "tiffin-ray"
    module_name = "tiffin"
    transports = ("socket",)
    differences = DIFFERENCES

    def __init__(self) -> None:
        self._pool: DeploymentPool | None = None

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("ray") is None:
            return 'Ray Serve is not installed (pip install "tiffin[ray]")'
        return None

    def owns(self, service: Any) -> bool:
        return False  # a user's tiffin service is run by the tiffin adapter

    def serves_objects(self, transport: str) -> bool:
        return False  # each replica imports module:Service

    def facts(self, service: Any) -> ServiceFacts:
        return TiffinImplementation().facts(service)

    @asynccontextmanager
    async def serve(self, spec: ServiceSpec, transport: str) -> AsyncIterator[httpx.AsyncClient]:
        if transport != "socket":
            raise ValueError(f"tiffin-ray serves over a socket only, not {transport!r}")
        if self._pool is None:
            self._pool = DeploymentPool()
        async with self._pool.client(spec, self.build(spec)) as client:
            yield client


class DeploymentPool:
    """The reference deployments of one run on one local Ray (started on first use)."""

    def __init__(self) -> None:
        self.cluster: LocalRay | None = None
        self.folder = Path(tempfile.mkdtemp(prefix="tiffin-ray-pool-"))
        self.current: tuple[str, Path] | None = None  # the pooled spec at "/", its event log
        self.fresh_at_root = False
        self.numbers = itertools.count()
        atexit.register(self.close)

    @asynccontextmanager
    async def client(self, spec: ServiceSpec, service: Any) -> AsyncIterator[httpx.AsyncClient]:
        if spec.extra.get("fresh"):
            async with self._fresh(spec, service) as url:
                async with _client(url) as client:
                    yield client
            return
        key = replace(spec, events_path="").to_json()
        if self.current is None or self.current[0] != key:
            events = self.folder / f"events-{next(self.numbers)}.log"
            try:
                await asyncio.to_thread(self._replace, replace(spec, events_path=str(events)))
            except Exception:
                if events.exists():  # what the failed startup recorded, for the check
                    shutil.copy(events, spec.events_path)
                raise
            self.current = (key, events)
        events = self.current[1]
        _keep_lifecycle(EventLog(events))
        os.symlink(events, spec.events_path)  # the check reads the deployment's log as its own
        assert self.cluster is not None
        async with _client(self.cluster.url) as client:
            yield client

    def _replace(self, spec: ServiceSpec) -> None:
        self._delete_current()
        self._deploy(spec, APP, "/")

    @asynccontextmanager
    async def _fresh(self, spec: ServiceSpec, service: Any) -> AsyncIterator[str]:
        if not self.fresh_at_root:
            self.fresh_at_root = True
            await asyncio.to_thread(self._delete_current)
            name, prefix = f"{APP}-fresh", "/"
        else:  # a second service at once: Ray serves one application per route prefix
            number = next(self.numbers)
            name, prefix = f"{APP}-fresh-{number}", f"/fresh-{number}"
        try:
            url = await asyncio.to_thread(self._deploy, spec, name, prefix)
            yield url
        finally:
            await asyncio.to_thread(self._delete, name)
            if prefix == "/":
                self.fresh_at_root = False

    def _deploy(self, spec: ServiceSpec, name: str, prefix: str) -> str:
        cluster = self._cluster()
        from ray import serve

        from tiffin.ray import application
        from tiffin.ray.serving import startup_failure

        app = application(
            _reference(spec),
            SERVED,
            working_dir=os.getcwd(),
            replicas=1,
            ray_actor_options={
                "num_cpus": 0.5,
                "runtime_env": {"env_vars": {SPEC_ENV: spec.to_json()}},
            },
            **REPLICA_OPTIONS,
        )
        try:
            serve.run(app, name=name, route_prefix=prefix)
        except RuntimeError as exc:
            message = startup_failure(name)
            serve.delete(name)
            raise RuntimeError(message) from exc
        return cluster.url + ("" if prefix == "/" else prefix)

    def _delete_current(self) -> None:
        if self.current is not None:
            self._delete(APP)
            self.current = None

    def _delete(self, name: str) -> None:
        from ray import serve

        serve.delete(name)

    def _cluster(self) -> LocalRay:
        if self.cluster is None:
            from tiffin.testing.ray import LocalRay

            self.cluster = LocalRay().__enter__()
        return self.cluster

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None
        shutil.rmtree(self.folder, ignore_errors=True)


def _reference(spec: ServiceSpec) -> Any:
    """The reference service built here, for its configuration (the replica builds its own)."""
    import tiffin
    from tiffin.conformance.reference import build_reference_service

    return build_reference_service(spec, tiffin)


@asynccontextmanager
async def _client(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=url, timeout=CLIENT_TIMEOUT) as client:
        yield client


def _keep_lifecycle(log: EventLog) -> None:
    """Keep the deployment's lifespan steps; drop what earlier checks' requests recorded."""
    if not log.path.exists():
        return
    lifecycle = [
        line
        for line in log.read()
        if line.startswith(LIFECYCLE_PREFIXES)
        or line.endswith("shutdown")
        or " startup current=" in line
    ]
    log.path.write_text("".join(f"{line}\n" for line in lifecycle))
