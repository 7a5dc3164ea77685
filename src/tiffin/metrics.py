"""Prometheus metrics with BentoML's names, counted per composed app, rendered at scrape time.

``endpoint`` is the route template (``/v1/items/{id}``), never the raw path, so
the number of label values stays bounded. Mounted Starlette and FastAPI apps
report the template of the route they matched; other mounted apps are labelled
by their mount (``/v1/{path:path}``). A client gone before its response started
is counted as ``499``, nginx's "client closed request", not as a server error.
A request is counted as the last message of its response is sent, so a scrape
that follows the response always sees it.

A request costs a few dict and list operations: the counts are plain Python
numbers of the app (:class:`RequestCounts`), and prometheus_client turns them
into metric families only when ``/metrics`` is scraped (a custom collector).

Under ``tiffin serve --workers N`` the counts must be summed across processes:
``PROMETHEUS_MULTIPROC_DIR`` is set (by ``tiffin serve``) before any worker
starts, and then every worker counts with prometheus_client's own metrics,
whose values live in files of that directory (:class:`SharedRequestCounts`),
and ``/metrics`` in any worker reads all of them. That is exact at every
scrape, at prometheus_client's usual cost per request.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterator
from time import perf_counter
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ENDPOINT_SCOPE_KEY = "tiffin.endpoint"
UNMATCHED = "unmatched"
# nginx's code for a client that closed its connection before the response started.
CLIENT_CLOSED_REQUEST = 499
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

# prometheus_client's default histogram buckets (upper bounds, the last one +Inf), as BentoML.
BUCKETS: tuple[float, ...] = tuple(float(bound) for bound in Histogram.DEFAULT_BUCKETS)
REQUEST_LABELS = ("endpoint", "service_name", "http_response_code")
IN_PROGRESS_LABELS = ("endpoint", "service_name")
REQUESTS_HELP = "Requests served"
DURATION_HELP = "Time from the request's arrival to the end of its response"
IN_PROGRESS_HELP = "Requests being served"


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


class Counts(Protocol):
    """What the middleware records: a request started, stopped, and was counted."""

    def started(self, endpoint: str) -> None: ...
    def stopped(self, endpoint: str) -> None: ...
    def finished(self, endpoint: str, status: int, seconds: float) -> None: ...
    def ended(self, running: str, endpoint: str, status: int, seconds: float) -> None:
        """``stopped(running)`` and ``finished(endpoint, ...)`` in one call."""


class Series:
    """One ``(endpoint, status)``: how many requests fell in each bucket, and their total time."""

    __slots__ = ("buckets", "seconds")

    def __init__(self, bucket_count: int) -> None:
        self.buckets = [0] * bucket_count
        self.seconds = 0.0


class RequestCounts:
    """The counts of one composed app in this process, in plain Python numbers.

    Written only by the event loop serving the app; read by the collector, which
    copies each container first (``list(d.items())`` is atomic under the GIL).
    """

    def __init__(self, bounds: tuple[float, ...] = BUCKETS) -> None:
        self.bounds = bounds  # the histogram's upper bounds, the last one +Inf
        self.in_progress: dict[str, int] = {}
        self.series: dict[tuple[str, int], Series] = {}

    def started(self, endpoint: str) -> None:
        in_progress = self.in_progress
        in_progress[endpoint] = in_progress.get(endpoint, 0) + 1

    def stopped(self, endpoint: str) -> None:
        self.in_progress[endpoint] -= 1

    def finished(self, endpoint: str, status: int, seconds: float) -> None:
        series = self.series.get((endpoint, status))
        if series is None:
            series = self.series[(endpoint, status)] = Series(len(self.bounds))
        # bisect_left: the first bucket whose upper bound is >= seconds, as Histogram.observe.
        series.buckets[bisect_left(self.bounds, seconds)] += 1
        series.seconds += seconds

    def ended(self, running: str, endpoint: str, status: int, seconds: float) -> None:
        # stopped() and finished() written out: this runs once a request.
        self.in_progress[running] -= 1
        series = self.series.get((endpoint, status))
        if series is None:
            series = self.series[(endpoint, status)] = Series(len(self.bounds))
        series.buckets[bisect_left(self.bounds, seconds)] += 1
        series.seconds += seconds


class RequestCollector(Collector):
    """The three families of one app's :class:`RequestCounts`, built when scraped."""

    def __init__(self, counts: RequestCounts, service_name: str, namespace: str) -> None:
        self.counts = counts
        self.service_name = service_name
        self.namespace = namespace

    def collect(self) -> Iterator[Metric]:
        namespace, service = self.namespace, self.service_name
        requests = CounterMetricFamily(f"{namespace}_request", REQUESTS_HELP, labels=REQUEST_LABELS)
        duration = HistogramMetricFamily(
            f"{namespace}_request_duration_seconds", DURATION_HELP, labels=REQUEST_LABELS
        )
        for (endpoint, status), series in list(self.counts.series.items()):
            labels = [endpoint, service, str(status)]
            cumulative, total = [], 0
            for bound, count in zip(self.counts.bounds, list(series.buckets), strict=True):
                total += count
                cumulative.append((_bound_text(bound), float(total)))
            requests.add_metric(labels, float(total))
            duration.add_metric(labels, cumulative, series.seconds)
        in_progress = GaugeMetricFamily(
            f"{namespace}_request_in_progress", IN_PROGRESS_HELP, labels=IN_PROGRESS_LABELS
        )
        for endpoint, running in list(self.counts.in_progress.items()):
            in_progress.add_metric([endpoint, service], float(running))
        yield requests
        yield duration
        yield in_progress


def _bound_text(bound: float) -> str:
    """A bucket's ``le`` label as prometheus_client writes it (``0.005``, ``1.0``, ``+Inf``)."""
    return "+Inf" if bound == float("inf") else repr(bound)


class SharedRequestCounts:
    """The counts of one worker among several: prometheus_client's metrics, values in files.

    prometheus_client writes their values to ``PROMETHEUS_MULTIPROC_DIR`` when
    that variable is set as it is imported, which ``tiffin serve`` does before
    starting the workers.
    """

    def __init__(self, service_name: str, namespace: str, buckets: tuple[float, ...]) -> None:
        self.service_name = service_name
        # A registry of their own: two apps in one worker never clash over the names.
        registry = CollectorRegistry()
        self.requests = Counter(
            f"{namespace}_request", REQUESTS_HELP, REQUEST_LABELS, registry=registry
        )
        self.duration = Histogram(
            f"{namespace}_request_duration_seconds",
            DURATION_HELP,
            REQUEST_LABELS,
            registry=registry,
            buckets=buckets,
        )
        self.in_progress = Gauge(
            f"{namespace}_request_in_progress",
            IN_PROGRESS_HELP,
            IN_PROGRESS_LABELS,
            registry=registry,
            multiprocess_mode="livesum",
        )

        # The children of each label set, looked up once (``labels()`` takes a lock).
        self._running: dict[str, Any] = {}
        self._finished: dict[tuple[str, int], tuple[Any, Any]] = {}

    def started(self, endpoint: str) -> None:
        gauge = self._running.get(endpoint)
        if gauge is None:
            gauge = self._running[endpoint] = self.in_progress.labels(endpoint, self.service_name)
        gauge.inc()

    def stopped(self, endpoint: str) -> None:
        self._running[endpoint].dec()

    def finished(self, endpoint: str, status: int, seconds: float) -> None:
        children = self._finished.get((endpoint, status))
        if children is None:
            labels = (endpoint, self.service_name, str(status))
            children = (self.requests.labels(*labels), self.duration.labels(*labels))
            self._finished[(endpoint, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def ended(self, running: str, endpoint: str, status: int, seconds: float) -> None:
        self.stopped(running)
        self.finished(endpoint, status, seconds)


class ServiceMetrics:
    """The request metrics of one composed app: its counts, and ``/metrics``' text."""

    def __init__(
        self, service_name: str, namespace: str, buckets: tuple[float, ...] | None = None
    ) -> None:
        self.service_name = service_name
        self.namespace = namespace
        # metrics.duration of the service config; prometheus_client's default otherwise
        bounds = BUCKETS if buckets is None else tuple(float(bound) for bound in buckets)
        self.multiprocess_dir = multiprocess_dir()
        self.counts: Counts
        if self.multiprocess_dir is None:
            counts = RequestCounts(bounds)
            self.counts = counts
            self.registry = CollectorRegistry()
            self.registry.register(RequestCollector(counts, service_name, namespace))
        else:
            self.counts = SharedRequestCounts(service_name, namespace, bounds)

    def started(self, endpoint: str) -> None:
        self.counts.started(endpoint)

    def stopped(self, endpoint: str) -> None:
        self.counts.stopped(endpoint)

    def finished(self, endpoint: str, status: int, seconds: float) -> None:
        self.counts.finished(endpoint, status, seconds)

    def render(self) -> bytes:
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        aggregate = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
            aggregate, path=self.multiprocess_dir
        )
        return generate_latest(aggregate)


class EndpointLabel(Protocol):
    """The route template of one request (the router's match), final when the request is counted.

    A request to a mounted app starts with the mount's label (``/v1/{path:path}``),
    the one its in-progress gauge counts under; ``final()``, called once as the
    request is counted, is the template of the route the mounted app matched.
    """

    template: str

    def final(self) -> str: ...


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
        self.counts = metrics.counts
        self.label_for = label_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = perf_counter()
        label = self.label_for(scope)
        scope[ENDPOINT_SCOPE_KEY] = label
        counts = self.counts
        running = label.template  # the in-progress gauge's label, before any refinement
        counts.started(running)
        status = 0  # no response started yet
        client_gone = False
        counted = False

        async def receive_watched() -> Message:
            nonlocal client_gone
            message = await receive()
            if message["type"] == "http.disconnect" and not status:
                client_gone = True
            return message

        # A plain function handing back send's awaitable: no coroutine of its own per message.
        def send_counted(message: Message) -> Awaitable[None]:
            nonlocal status, counted
            if message["type"] == "http.response.start":
                status = message["status"]
            elif (
                not counted
                and message["type"] == "http.response.body"
                and not message.get("more_body", False)
            ):
                # Counted before the client can read the end of the response: a scrape
                # that follows it sees the request.
                counted = True
                code = CLIENT_CLOSED_REQUEST if client_gone else status
                counts.ended(running, label.final(), code, perf_counter() - began)
            return send(message)

        try:
            await self.app(scope, receive_watched, send_counted)
        except asyncio.CancelledError:
            client_gone = client_gone or not status
            raise
        finally:
            if not counted:
                # An app that returns without responding: a server answers it 500.
                code = CLIENT_CLOSED_REQUEST if client_gone else status or 500
                counts.ended(running, label.final(), code, perf_counter() - began)


def is_last_body(message: Message) -> bool:
    return message["type"] == "http.response.body" and not message.get("more_body", False)
