"""The startup banner of ``tiffin serve``: what is served, and where."""

from __future__ import annotations

from typing import Any

from tiffin.infra import probe_paths
from tiffin.service import Service


def startup_banner(
    service: Service[Any],
    *,
    target: str,
    host: str,
    port: int,
    workers: int,
    scheme: str = "http",
) -> str:
    """A few aligned lines: the service, its APIs, each mount with its framework, the docs URL."""
    prefix = service.config.path_prefix
    base = f"{scheme}://{_url_host(host)}:{port}"
    plural = "worker" if workers == 1 else "workers"
    lines = [f"tiffin: serving {service.name} ({target}) on {base} with {workers} {plural}"]
    for spec in service.apis.values():
        lines.append(f"  api    POST {prefix}{spec.route}")
    for mount in service.mounts:
        path = prefix + mount.path if mount.path != "/" else (prefix or "/")
        named = f" ({mount.name})" if mount.name != mount.path else ""
        lines.append(f"  mount  {path:<12} {mount.framework}{named}")
        lines.extend(f"           {route}" for route in _mounted_routes(mount.app, path))
    lines.append(f"  infra  {' '.join(probe_paths(service.config))}")
    lines.append(f"  docs   {base}{prefix}/docs")
    if service.config.http.cors.enabled:
        origins = service.config.http.cors.middleware_options().get("allow_origins", [])
        lines.append(f"  cors   allow_origins {', '.join(origins) or '(none)'}")
    recorded = service.config.recorded()
    if recorded:
        # Build and cloud keys: kept (Service.config, Service.image...), no effect here.
        lines.append("  recorded, no effect in tiffin (build/cloud):")
        lines.extend(f"           {key} = {_short(value)}" for key, value in recorded.items())
    return "\n".join(lines)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _mounted_routes(app: Any, path: str) -> list[str]:
    """``GET /v1/hello`` for each documented route of a Starlette or FastAPI app."""
    found = []
    base = "" if path == "/" else path
    for route in getattr(app, "routes", None) or ():
        methods = getattr(route, "methods", None)
        route_path = getattr(route, "path", None)
        if not methods or not isinstance(route_path, str):
            continue
        if not getattr(route, "include_in_schema", True):
            continue
        shown = ",".join(sorted(set(methods) - {"HEAD"})) or "HEAD"
        found.append(f"{shown} {base}{route_path}")
    return found


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
