"""The checks, one module per area; importing this package registers them all."""

from tiffin.conformance.checks import (
    api,
    concurrency,
    definition,
    infra,
    injection,
    lifespan,
    middleware,
    routing,
    service_sdk,
    timeouts,
    trusted_host,
)

__all__ = [
    "api",
    "concurrency",
    "definition",
    "infra",
    "injection",
    "lifespan",
    "middleware",
    "routing",
    "service_sdk",
    "timeouts",
    "trusted_host",
]
