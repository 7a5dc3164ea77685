"""The infrastructure routes: health probes, metrics, the OpenAPI document, the index page."""

from __future__ import annotations

import asyncio
import html
import inspect
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from tiffin.docs_page import docs_page
from tiffin.infra_paths import DOCS, DOCS_JSON, HEALTHZ, LIVEZ, METRICS, PROBES, READYZ

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tiffin.app import ServiceRuntime
    from tiffin.config import ServiceConfig

    Handler = Callable[[ServiceRuntime], Awaitable[Response]]


async def answers_true(instance: Any, method_name: str) -> bool:
    """``__is_alive__``/``__is_ready__`` of the instance (awaited if async); True when absent."""
    method = getattr(instance, method_name, None)
    if method is None:
        return True
    result = method()
    if inspect.isawaitable(result):
        result = await result
    return bool(result)


async def livez(runtime: ServiceRuntime) -> Response:
    if runtime.instance is not None and not await answers_true(runtime.instance, "__is_alive__"):
        return PlainTextResponse("Service is not alive", status_code=503)
    return PlainTextResponse("\n")


async def readyz(runtime: ServiceRuntime) -> Response:
    if not runtime.ready:
        return PlainTextResponse("Service is not ready: startup has not finished", status_code=503)
    if not await answers_true(runtime.instance, "__is_ready__"):
        return PlainTextResponse("Service is not ready", status_code=503)
    return PlainTextResponse("\n")


async def metrics(runtime: ServiceRuntime) -> Response:
    content = runtime.render_metrics()
    if runtime.instance is not None and hasattr(runtime.service.inner, "__metrics__"):
        content = await user_metrics(runtime.instance, content)
    return Response(content, media_type=CONTENT_TYPE_LATEST)


async def user_metrics(instance: Any, content: bytes) -> bytes:
    """BentoML's ``__metrics__`` hook (``_bentoml_impl/server/app.py``, 1.4.40).

    ``__metrics__(content: str) -> str`` gets the Prometheus text tiffin made
    and returns the whole text to serve (BentoVLLM appends vLLM's own metrics);
    a sync one runs in a thread. An exception answers 500, as BentoML's does.
    """
    hook = instance.__metrics__
    if inspect.iscoroutinefunction(hook):
        text = await hook(content.decode("utf-8"))
    else:
        text = await asyncio.to_thread(hook, content.decode("utf-8"))
        if inspect.isawaitable(text):
            text = await text
    if not isinstance(text, str):
        raise TypeError(
            f"__metrics__ must return the metrics text (str), got {type(text).__name__}"
        )
    return text.encode("utf-8")


async def docs_json(runtime: ServiceRuntime) -> Response:
    return JSONResponse(runtime.openapi())


async def docs(runtime: ServiceRuntime) -> Response:
    return docs_page(runtime.service.name, runtime.config.path_prefix)


async def index(runtime: ServiceRuntime) -> Response:
    prefix = runtime.config.path_prefix
    handlers = infra_handlers(runtime.config, is_main=True)
    links = "".join(
        f'<li><a href="{html.escape(prefix + path)}">{html.escape(prefix + path)}</a></li>'
        for path in (DOCS, DOCS_JSON, *PROBES)
        if path in handlers
    )
    title = html.escape(runtime.service.name)
    return HTMLResponse(
        f"<!doctype html><html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><ul>{links}</ul></body></html>"
    )


INFRA_HANDLERS: dict[str, Handler] = {
    LIVEZ: livez,
    HEALTHZ: livez,
    READYZ: readyz,
    METRICS: metrics,
    DOCS_JSON: docs_json,
    DOCS: docs,
}
DOCS_ASSETS = "/docs/"


def infra_handlers(config: ServiceConfig, *, is_main: bool) -> dict[str, Handler]:
    """The infrastructure routes of one service, below its path_prefix.

    As BentoML: no ``/metrics`` when metrics are disabled, and an app that is not
    the main one (``to_asgi(is_main=False)``) serves no docs.
    """
    handlers = dict(INFRA_HANDLERS)
    if not config.metrics.enabled:
        del handlers[METRICS]
    if not is_main:
        del handlers[DOCS_JSON], handlers[DOCS]
    return handlers


def moved_probes(config: ServiceConfig) -> dict[str, Handler]:
    """The probes at the paths ``endpoints`` names (whole paths, as BentoML's, which
    include the path_prefix); ``/livez`` ``/healthz`` ``/readyz`` still answer too."""
    table: dict[str, Handler] = {}
    if config.endpoints.livez:
        table["/" + config.endpoints.livez.strip("/")] = livez
    if config.endpoints.readyz:
        table["/" + config.endpoints.readyz.strip("/")] = readyz
    return table


def probe_paths(config: ServiceConfig) -> tuple[str, ...]:
    """Every path a probe answers at, path_prefix included: never throttled, always listed."""
    standard = [config.path_prefix + probe for probe in PROBES]
    return tuple(dict.fromkeys([*standard, *moved_probes(config)]))
