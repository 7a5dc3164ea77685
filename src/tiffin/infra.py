"""The infrastructure routes: health probes, metrics, the OpenAPI document, the index page."""

from __future__ import annotations

import html
import inspect
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from tiffin.docs_page import docs_page

if TYPE_CHECKING:
    from tiffin.app import ServiceRuntime

PROBES = ("/livez", "/healthz", "/readyz", "/metrics")


async def _check(instance: Any, method_name: str) -> bool:
    method = getattr(instance, method_name, None)
    if method is None:
        return True
    result = method()
    if inspect.isawaitable(result):
        result = await result
    return bool(result)


async def livez(runtime: ServiceRuntime) -> Response:
    if runtime.instance is not None and not await _check(runtime.instance, "__is_alive__"):
        return PlainTextResponse("Service is not alive", status_code=503)
    return PlainTextResponse("\n")


async def readyz(runtime: ServiceRuntime) -> Response:
    if not runtime.ready:
        return PlainTextResponse("Service is not ready: startup has not finished", status_code=503)
    if not await _check(runtime.instance, "__is_ready__"):
        return PlainTextResponse("Service is not ready", status_code=503)
    return PlainTextResponse("\n")


async def metrics(runtime: ServiceRuntime) -> Response:
    return Response(runtime.render_metrics(), media_type=CONTENT_TYPE_LATEST)


async def docs_json(runtime: ServiceRuntime) -> Response:
    return JSONResponse(runtime.openapi())


async def docs(runtime: ServiceRuntime) -> Response:
    return docs_page(runtime.service.name, runtime.config.path_prefix)


async def index(runtime: ServiceRuntime) -> Response:
    prefix = runtime.config.path_prefix
    links = "".join(
        f'<li><a href="{html.escape(prefix + path)}">{html.escape(prefix + path)}</a></li>'
        for path in ("/docs", "/docs.json", *PROBES)
    )
    title = html.escape(runtime.service.name)
    return HTMLResponse(
        f"<!doctype html><html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><ul>{links}</ul></body></html>"
    )


INFRA_HANDLERS = {
    "/livez": livez,
    "/healthz": livez,
    "/readyz": readyz,
    "/metrics": metrics,
    "/docs.json": docs_json,
    "/docs": docs,
}
DOCS_ASSETS = "/docs/"
