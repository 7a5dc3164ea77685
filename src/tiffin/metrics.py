"""Prometheus metrics with BentoML's names, one registry per composed app.

``endpoint`` is the route template (``/v1/items/{id}``), never the raw path, so
the number of label values stays bounded. Mounted Starlette and FastAPI apps
report the template of the route they matched; other mounted apps are labelled
by their mount (``/v1/{path:path}``). A client gone before its response started
is counted as ``499``, nginx's "client closed request", not as a server error.
A request is counted as the last message of its response is sent, so a scrape
that follows the response always sees it.

Under ``tiffin serve --workers N`` the metrics live in prometheus_client's
multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` is set (by ``tiffin serve``)
before any worker starts, every worker writes its values there, and ``/metrics``
in any worker reads all of them. Without that variable each composed app keeps
a registry of its own, so two apps in one process never collide.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ENDPOINT_SCOPE_KEY = "tiffin.endpoint"
UNMATCHED = "unmatched"
# nginx's code for a client that closed its connection before the response started.
CLIENT_CLOSED_REQUEST = 499
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The directory every worker writes its metrics to, when serving with several workers."""
    return os.environ.get(MULTIPROCESS_DIR_ENV) or None


def mark_worker_stopped(pid: int | None = None) -> None:
    """Drop a stopped worker's live gauges (``in_progress``) from the shared directory."""
    directory = multiprocess_dir()
    if directory is not None:
        prometheus_multiprocess.mark_process_dead(  # type: ignore[no-untyped-call]
            pid or os.getpid(), directory
        )


class ServiceMetrics:
    """The three metric families of one composed app, in a registry of its own."""

    def __init__(
        self, service_name: str, namespace: str, buckets: tuple[float, ...] | None = None
    ) -> None:
        self.service_name = service_name
        self.multiprocess_dir = multiprocess_dir()
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["endpoint", "service_name", "http_response_code"]
        self.requests = Counter(
            f"{namespace}_request", "Requests served", labels, registry=self.registry
        )
        self.duration = Histogram(
            f"{namespace}_request_duration_seconds",
            "Time from the request's arrival to the end of its response",
            labels,
            registry=self.registry,
            # metrics.duration of the service config; prometheus_client's default otherwise
            buckets=buckets or Histogram.DEFAULT_BUCKETS,
        )
        self.in_progress = Gauge(
            f"{namespace}_request_in_progress",
            "Requests being served",
            ["endpoint", "service_name"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self._finished: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._running: dict[str, Any] = {}

    def started(self, endpoint: str) -> Any:
        gauge = self._running.get(endpoint)
        if gauge is None:
            gauge = self._running[endpoint] = self.in_progress.labels(endpoint, self.service_name)
        gauge.inc()
        return gauge

    def finished(self, endpoint: str, status: int, seconds: float) -> None:
        children = self._finished.get((endpoint, status))
        if children is None:
            labels = (endpoint, self.service_name, str(status))
            children = (self.requests.labels(*labels), self.duration.labels(*labels))
            self._finished[(endpoint, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        aggregate = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
            aggregate, path=self.multiprocess_dir
        )
        return generate_latest(aggregate)


class EndpointLabel:
    """The route template of one request.

    A request to a mounted app starts with the mount's label (``/v1/{path:path}``),
    and the router refines it to the route the app matched. When the app never
    ran (a ``429`` or ``503`` answered first), ``resolve`` finds that route
    without running it, once the response is sent.
    """

    __slots__ = ("resolve", "template")

    def __init__(self, template: str, resolve: Callable[[], str | None] | None = None) -> None:
        self.template = template
        self.resolve = resolve

    def refine(self, template: str | None) -> None:
        """The route the app matched (None: none did): the label needs no ``resolve``."""
        self.resolve = None
        if template is not None:
            self.template = template

    def final(self) -> str:
        if self.resolve is not None:
            resolve, self.resolve = self.resolve, None
            try:
                self.refine(resolve())
            except Exception:  # a label never fails a request; the mount's label stands
                pass
        return self.template


class MetricsMiddleware:
    """Counts every http request by route template and status.

    A client that disconnects before its response started is counted as ``499``
    (nginx's "client closed request"), as is a request cancelled from outside
    before it responded (a server does that when its client is gone): neither is
    a server error.
    """

    def __init__(
        self, app: ASGIApp, metrics: ServiceMetrics, label_for: Callable[[Scope], EndpointLabel]
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.label_for = label_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        label = self.label_for(scope)
        scope[ENDPOINT_SCOPE_KEY] = label
        gauge = self.metrics.started(label.template)
        status = 500  # an app that returns without responding (a server answers it 500)
        started = False
        client_gone = False

        async def receive_watched() -> Message:
            nonlocal client_gone
            message = await receive()
            if message["type"] == "http.disconnect" and not started:
                client_gone = True
            return message

        counted = False

        def count() -> None:
            nonlocal counted
            counted = True
            gauge.dec()
            code = CLIENT_CLOSED_REQUEST if client_gone else status
            self.metrics.finished(label.final(), code, time.perf_counter() - began)

        async def send_counted(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
            elif is_last_body(message) and not counted:
                # Counted before the client can read the end of the response: a scrape
                # that follows it sees the request.
                count()
            await send(message)

        try:
            await self.app(scope, receive_watched, send_counted)
        except asyncio.CancelledError:
            client_gone = client_gone or not started
            raise
        finally:
            if not counted:
                count()


def is_last_body(message: Message) -> bool:
    return message["type"] == "http.response.body" and not message.get("more_body", False)
