"""What a conformance run varies: the framework mounted, the transport, and the service's shape.

A ``ServiceSpec`` is plain data (it crosses into a ``bentoml serve`` subprocess as
JSON), so every implementation builds the same reference service from it.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

# How a spec reaches a `bentoml serve` subprocess: as JSON in this variable.
SPEC_ENV = "TIFFIN_CONFORMANCE_SPEC"

FRAMEWORKS = ("fastapi", "quart", "starlette", "asgi")
# What a run covers unless asked for more: in-process, and over a socket served by uvicorn.
TRANSPORTS = ("inprocess", "socket")
# Over a socket, by ASGI server: `socket` is uvicorn (for BentoML, its own `bentoml serve`).
SERVER_TRANSPORTS = {"socket": "uvicorn", "hypercorn": "hypercorn", "granian": "granian"}
ALL_TRANSPORTS = ("inprocess", *SERVER_TRANSPORTS)


def installed(name: str) -> bool:
    """Whether a framework's or a server's package can be imported here (``asgi``: no package)."""
    package = SERVER_TRANSPORTS.get(name, name)
    return name in ("asgi", "inprocess") or importlib.util.find_spec(package) is not None


# What each framework's probe app can show. A check needing a capability the
# framework lacks does not apply there, and the grid says so.
FRAMEWORK_CAPABILITIES: dict[str, frozenset[str]] = {
    "fastapi": frozenset(
        {
            "inside_class",
            "inside_class_websocket",
            "lifespan_state",
            "route_templates",
            "openapi",
            "sync_routes",
            "websocket",
        }
    ),
    "starlette": frozenset(
        {
            "inside_class",
            "inside_class_websocket",
            "lifespan_state",
            "route_templates",
            "sync_routes",
            "websocket",
        }
    ),
    "quart": frozenset({"inside_class", "route_templates", "sync_routes", "websocket"}),
    "asgi": frozenset({"lifespan_state", "websocket", "without_lifespan"}),
}
CAPABILITY_MEANING = {
    "service_objects": "a service the check defines itself, served as an object (here the "
    "implementation serves only an importable module:Service)",
    "inside_class": "routes defined in the service class body",
    "inside_class_websocket": "websocket routes defined in the service class body",
    "lifespan_state": "state yielded by the app's lifespan (Quart has no ASGI lifespan state)",
    "route_templates": "route templates such as /items/{item_id} (a bare callable has none)",
    "openapi": "an OpenAPI schema of its own (FastAPI only)",
    "sync_routes": "sync route handlers run in a thread",
    "websocket": "websocket routes",
    "without_lifespan": "an app that does not speak the lifespan protocol",
    "reference": "a service the suite defines itself (not a user's service)",
    "apis": "at least one @api endpoint",
    "mounts": "at least one mounted ASGI app",
    "trusted_host": "a TrustedHostMiddleware",
    "misses": "paths no route serves (no app is mounted at the root)",
}

TRUSTED_HOSTS = ("example.com", "*.example.com")
MIDDLEWARE_LABELS = ("A", "B")  # added in this order: A is the outermost user middleware


@dataclass(frozen=True)
class ServiceSpec:
    """The reference service's shape; checks change only what their rule is about."""

    framework: str
    events_path: str = ""
    mount_path: str = "/v1"
    path_prefix: str | None = None
    middleware: tuple[str, ...] = MIDDLEWARE_LABELS
    trusted_hosts: tuple[str, ...] | None = None
    timeout: float | None = None
    max_concurrency: int | None = None
    threads: int | None = None  # the sync APIs' thread pool; None: the implementation's default
    # A second copy of the probe app at /v1/deep (longest prefix first) or the
    # same app again at /v2 (it must start once).
    deep_mount: bool = False
    mount_twice: bool = False
    fail_startup: bool = False  # the mounted app's lifespan startup raises
    lifespan: bool = True  # False: the mounted app does not speak the lifespan protocol
    extra: dict[str, Any] = field(default_factory=dict)

    def changed(self, **changes: Any) -> ServiceSpec:
        return replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServiceSpec:
        data = json.loads(text)
        for key in ("middleware", "trusted_hosts"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        return cls(**data)

    def prefixed(self, path: str) -> str:
        """``path`` as served: under the service's path prefix."""
        return (self.path_prefix or "") + path

    @property
    def mounted(self) -> str:
        """The probe app's prefix as served, path prefix included."""
        return self.prefixed(self.mount_path)

    @property
    def allowed_host(self) -> str | None:
        return self.trusted_hosts[0] if self.trusted_hosts else None
