"""tiffin: a reference server, pytest harness and conformance suite for BentoML-style services.

``import tiffin as bentoml`` runs BentoML's documented ASGI examples unchanged.
"""

from tiffin import exceptions, images, validators
from tiffin.api import api
from tiffin.arguments import use_arguments
from tiffin.context import get_current_service
from tiffin.dependencies import depends
from tiffin.exceptions import ServiceNotRunning
from tiffin.hooks import on_deployment, on_shutdown, on_startup
from tiffin.mounts import mount_asgi_app
from tiffin.request_context import Context
from tiffin.service import Service, service

__version__ = "0.1.0"

asgi_app = mount_asgi_app

# The modules imported above are attributes of the package now; only the names of
# ``__all__`` are its surface (tests/test_public_api.py pins it as httpx pins its own).
# The configuration models and everything that serves requests are imported later, by
# ``@service`` and ``to_asgi()``, so ``import tiffin`` stays quick
# (tests/test_import_cost.py).
for _module in (
    "api_files",
    "arguments",
    "command",
    "context",
    "dependencies",
    "frameworks",
    "hooks",
    "infra_paths",
    "mounts",
    "request_context",
):
    globals().pop(_module, None)
del _module

# Names of BentoML's SDK that are out of tiffin's scope (docs/sdk_support.md): reading
# one says so, instead of a bare AttributeError from deep inside a service module.
_OUT_OF_SCOPE = {
    "models": (
        "BentoML's model store (bentoml.models, HuggingFaceModel, BentoModel)",
        "Give the service the local path of its model instead.",
    ),
    "task": ("BentoML's tasks (@bentoml.task)", "Serve the work as an @api."),
    "build": ("bentoml.build and containers", "tiffin serves a service from its source."),
    "batch": ("adaptive batching", "Batch inside the @api method."),
}


def __getattr__(name: str) -> object:
    if name in _OUT_OF_SCOPE:
        what, instead = _OUT_OF_SCOPE[name]
        raise AttributeError(f"tiffin has no {name!r}: {what} is out of its scope. {instead}")
    raise AttributeError(f"module 'tiffin' has no attribute {name!r}")


__all__ = [
    "Context",
    "Service",
    "ServiceNotRunning",
    "__version__",
    "api",
    "asgi_app",
    "depends",
    "exceptions",
    "get_current_service",
    "images",
    "mount_asgi_app",
    "on_deployment",
    "on_shutdown",
    "on_startup",
    "service",
    "use_arguments",
    "validators",
]
