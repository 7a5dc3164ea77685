"""BentoML services in tiffin's harness: a BentoML user tests a real service with tiffin's fixtures.

``ServiceClient(svc)`` (and so ``tiffin_client_factory(svc)``, ``tiffin_client``,
``tiffin_live_server``) accepts a ``@bentoml.service`` as it accepts a tiffin one:
``tiffin.testing.backends.backend_for`` hands it to :class:`BentoMLBackend`, which
composes the app with BentoML's own ``Svc.to_asgi()`` and runs its lifespan with
the core's ``LifespanDriver``. What is served is BentoML's app, with BentoML's
behaviour: tiffin's contract does not apply to it.

One concern per module:

- ``detect``: is this a BentoML service (never imports bentoml).
- ``process``: the process-wide state BentoML 1.4 needs while its app runs in-process
  (prometheus multiprocess directory, ``server_context``, one service at a time).
- ``client``: the in-process backend (compose, answer as ``bentoml serve`` does, lifespan).
- ``serve``: the real thing, ``bentoml serve module:Svc`` in a subprocess.
- ``known_warnings``: the deprecation warnings bentoml itself emits, as ``filterwarnings`` lines.

Nothing here imports bentoml unless a BentoML service is handed to it: a BentoML
service object exists only once ``_bentoml_sdk`` is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiffin.testing.bentoml.client import SUPPORTED_TRAFFIC, AsServed, BentoMLBackend, compose
    from tiffin.testing.bentoml.detect import is_bentoml_service
    from tiffin.testing.bentoml.known_warnings import BENTOML_WARNINGS
    from tiffin.testing.bentoml.process import PROMETHEUS_ENV, BentoMLProcessState
    from tiffin.testing.bentoml.serve import BentoMLServer, BentoMLServers, serve_target

__all__ = [
    "BENTOML_WARNINGS",
    "PROMETHEUS_ENV",
    "SUPPORTED_TRAFFIC",
    "AsServed",
    "BentoMLBackend",
    "BentoMLProcessState",
    "BentoMLServer",
    "BentoMLServers",
    "compose",
    "is_bentoml_service",
    "serve_target",
]

# Each name from the module of its concern, imported on first use: recognising a
# service (what every caller needs) must not import httpx or prometheus_client.
_MODULES = {
    "BENTOML_WARNINGS": "known_warnings",
    "PROMETHEUS_ENV": "process",
    "BentoMLProcessState": "process",
    "SUPPORTED_TRAFFIC": "client",
    "AsServed": "client",
    "BentoMLBackend": "client",
    "compose": "client",
    "is_bentoml_service": "detect",
    "BentoMLServer": "serve",
    "BentoMLServers": "serve",
    "serve_target": "serve",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
