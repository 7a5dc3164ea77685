"""tiffin: a reference server, pytest harness and conformance suite for BentoML-style services.

``import tiffin as bentoml`` runs BentoML's documented ASGI examples unchanged.
"""

from tiffin import exceptions
from tiffin.api import api
from tiffin.context import get_current_service
from tiffin.exceptions import ServiceNotRunning
from tiffin.hooks import on_shutdown, on_startup
from tiffin.mounts import mount_asgi_app
from tiffin.service import Service, service

__version__ = "0.1.0"

asgi_app = mount_asgi_app

# The modules imported above are attributes of the package now; only the names of
# ``__all__`` are its surface (tests/test_public_api.py pins it as httpx pins its own).
for _module in ("config", "context", "frameworks", "hooks", "mounts", "responses"):
    globals().pop(_module, None)
del _module

__all__ = [
    "Service",
    "ServiceNotRunning",
    "__version__",
    "api",
    "asgi_app",
    "exceptions",
    "get_current_service",
    "mount_asgi_app",
    "on_shutdown",
    "on_startup",
    "service",
]
