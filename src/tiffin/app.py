"""Compose a service into one ASGI app. The request path, outermost first:

    error guard -> metrics -> timeout -> max_concurrency -> max_body_size
        -> user middleware #1 -> #2 -> ... -> service context -> router

``compose_chain`` builds exactly this chain, so the order is written once, here.
``ComposedApp`` answers the ASGI lifespan itself (starting the instance, its
hooks and every mounted app) and sends every other scope down the chain.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from tiffin import context
from tiffin.error_guard import ErrorGuardMiddleware
from tiffin.exceptions import StartupError
from tiffin.frameworks import bind_class_routes
from tiffin.infra import PROBES
from tiffin.lifespan import ServiceLifespan, ShutdownError, Step
from tiffin.metrics import MetricsMiddleware, ServiceMetrics
from tiffin.routing import Router
from tiffin.traffic import (
    SLOT_SCOPE_KEY,
    BodySizeLimitMiddleware,
    ConcurrencyLimitMiddleware,
    TimeoutMiddleware,
)

if TYPE_CHECKING:
    from tiffin.config import ServiceConfig
    from tiffin.mounts import Mount
    from tiffin.service import Service

logger = logging.getLogger("tiffin")


class ServiceRuntime:
    """Everything one composed app holds while it runs: the instance, state, metrics, threads."""

    def __init__(self, service: Service[Any], config: ServiceConfig) -> None:
        self.service = service
        self.config = config
        self.name = config.name
        self.instance: Any = None
        self.ready = False
        self.metrics = (
            ServiceMetrics(config.name, config.metrics.namespace)
            if config.metrics.enabled
            else None
        )
        self.lifespan = ServiceLifespan(self)
        self._executor: ThreadPoolExecutor | None = None
        self._openapi: dict[str, Any] | None = None

    def state_for(self, mount: Mount) -> dict[str, Any]:
        return self.lifespan.state_for(mount)

    def render_metrics(self) -> bytes:
        return self.metrics.render() if self.metrics is not None else b""

    def openapi(self) -> dict[str, Any]:
        if self._openapi is None:
            from tiffin.openapi import build_openapi

            self._openapi = build_openapi(self.service, self.config)
        return self._openapi

    async def run_in_thread(
        self, scope: Scope, func: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Any:
        """Run a sync handler in the service's pool (``threads`` wide), in this request's context.

        The thread holds the request's concurrency slot until it returns, even if
        the request is cancelled by its timeout first.
        """
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self.config.threads, thread_name_prefix=f"tiffin-{self.name}"
            )
        call = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)
        future = self._executor.submit(call)
        slot = scope.get(SLOT_SCOPE_KEY)
        if slot is not None:
            slot.hold()
            future.add_done_callback(lambda _: slot.release())
        return await asyncio.wrap_future(future)

    async def start(self) -> None:
        """Run the service's startup (``lifespan.ServiceLifespan``); then it serves."""
        await self.lifespan.startup()
        self.ready = True
        context.mark_running(self)

    async def stop(self) -> None:
        """Run its shutdown: every step runs, then the instance and the thread pool go."""
        self.ready = False
        context.mark_stopped(self)
        try:
            await self.lifespan.shutdown()
        finally:
            self.instance = None
            if self._executor is not None:
                self._executor.shutdown(wait=False)
                self._executor = None


class ServiceContextMiddleware:
    """The innermost layer: ``get_current_service()`` answers this runtime's instance."""

    def __init__(self, app: ASGIApp, runtime: ServiceRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = context.enter(self.runtime)
        try:
            await self.app(scope, receive, send)
        finally:
            context.leave(token)


def compose_chain(runtime: ServiceRuntime) -> ASGIApp:
    """The middleware chain of the module docstring, built from the inside out."""
    config = runtime.config
    router = Router(runtime)
    app: ASGIApp = ServiceContextMiddleware(router, runtime)
    for middleware_cls, options in reversed(runtime.service.middlewares):
        app = middleware_cls(app, **options)
    if config.traffic.max_body_size is not None:
        app = BodySizeLimitMiddleware(app, config.traffic.max_body_size)
    if config.traffic.max_concurrency is not None:
        exempt = frozenset(config.path_prefix + probe for probe in PROBES)
        app = ConcurrencyLimitMiddleware(app, config.traffic.max_concurrency, exempt)
    app = TimeoutMiddleware(app, config.traffic.timeout)
    if runtime.metrics is not None:
        app = MetricsMiddleware(app, runtime.metrics, router.label_for)
    return ErrorGuardMiddleware(app, config.name)


class ComposedApp:
    """The ASGI app of one service: lifespan handled here, everything else down the chain."""

    def __init__(self, service: Service[Any], config: ServiceConfig) -> None:
        self.service = service
        for mount in service.mounts:
            # Again at compose time: routes added to an app after it was mounted get `self` too.
            bind_class_routes(mount.app, service.inner)
        self.runtime = ServiceRuntime(service, config)
        self.chain = compose_chain(self.runtime)

    def __repr__(self) -> str:
        return f"<tiffin.ComposedApp of service {self.service.name!r}>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:
            await self.chain(scope, receive, send)

    @property
    def current_step(self) -> Step | None:
        """The startup or shutdown step running now (for diagnostics), or None."""
        return self.runtime.lifespan.current_step

    @property
    def started(self) -> bool:
        return self.runtime.lifespan.started

    async def startup(self) -> None:
        """Start the service outside an ASGI server: the instance, hooks, mounted lifespans.

        Raises ``StartupError`` (service, step, cause chained) after stopping whatever
        had started; a cancelled startup also stops what had started.
        """
        await self.runtime.start()

    async def shutdown(self) -> None:
        """Stop a service started with ``startup()``; every step runs (``ShutdownError``)."""
        await self.runtime.stop()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ComposedApp]:
        """``async with app.running():`` starts the service and always stops it."""
        await self.startup()
        try:
            yield self
        finally:
            await self.shutdown()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """The ASGI lifespan protocol. After ``*.failed`` the error is re-raised, as
        Starlette does, so every driver (uvicorn, asgi-lifespan, TestClient) reports it.

        A service already started with ``startup()`` (Ray Serve starts it in the
        replica's constructor) is not started again, and is not stopped here either.
        """
        await receive()  # lifespan.startup
        started_here = not self.started
        if started_here:
            try:
                await self.startup()
            except Exception as exc:
                message = _failure_message(self.service.name, "startup", exc)
                await send({"type": "lifespan.startup.failed", "message": message})
                raise
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        if started_here:
            try:
                await self.shutdown()
            except Exception as exc:
                message = _failure_message(self.service.name, "shutdown", exc)
                await send({"type": "lifespan.shutdown.failed", "message": message})
                raise
        await send({"type": "lifespan.shutdown.complete"})


def _failure_message(service_name: str, phase: str, exc: Exception) -> str:
    """The message of ``lifespan.*.failed`` (servers print it); the cause's traceback is logged.

    uvicorn prints the message and, since it was answered, not the exception again.
    """
    if isinstance(exc, (StartupError, ShutdownError)):
        if exc.__cause__ is not None:
            logger.error(
                "service %r: the traceback of the failed %s step",
                service_name,
                phase,
                exc_info=exc.__cause__,
            )
        return str(exc)
    logger.exception("service %r: %s failed", service_name, phase)
    return f"service {service_name!r}: {phase} failed: {type(exc).__name__}: {exc}"
