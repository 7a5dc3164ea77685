"""``__command__``: a server process the service starts, and every other path proxied to it.

BentoML's behaviour (``_bentoml_impl/server/proxy.py`` and ``server/app.py``,
checked against 1.4.40), which tiffin follows:

- ``__command__`` is a method of the class returning the argv (``["vllm",
  "serve", ...]``), or the service is given ``cmd=[...]``; ``$VAR``/``${VAR}``
  in it are expanded from the environment.
  It is started after every other startup step (BentoML runs it in the
  lifespan of a proxy app mounted last) and is ready when ``GET
  http://localhost:{http.proxy_port}{endpoints.livez}`` answers 2xx (defaults
  8000 and ``/health``), polled until then; a 404 there is a configuration
  error, and a command that exits first fails the startup.
- Every request the service does not serve itself (its probes, ``/metrics``,
  its APIs, its mounted apps) is forwarded to the command below the
  service's ``path_prefix``: method, path, query, headers (not ``Host``) and
  body, and the answer streamed back as it comes. An unreachable command
  answers ``503 Upstream service unavailable.``
- ``Service.context.state`` holds ``proc`` and ``client`` (an
  ``httpx.AsyncClient`` on the command's URL), which BentoVLLM's
  ``__metrics__`` reads.
- At shutdown the process gets SIGTERM, then SIGKILL after a grace period.
- One process serves a port: BentoML starts it in worker 1 only (every worker
  with ``replicate_process=True``); tiffin's workers agree through a lock file
  per port, and the others proxy to the one that holds it.

tiffin differs in two ways, both declared: websockets pass through (BentoML's
proxy has only HTTP routes), and the process runs in a process group of its
own that is stopped as a whole, and on Linux dies with its parent
(``PR_SET_PDEATHSIG``), so a killed server never leaves the command behind.

This module is what a service definition needs (``check_command``); the process
and the proxy are ``tiffin.command_process``, loaded by the lifespan that starts it.
"""

from __future__ import annotations

import os
import string
from typing import TYPE_CHECKING, Any

from tiffin.exceptions import BentoMLConfigException

if TYPE_CHECKING:
    from tiffin.service import Service

# Read when a process starts (``tiffin.command_process``), so a test can change them here.
DEFAULT_PROXY_PORT = 8000  # BentoML's default http.proxy_port
DEFAULT_HEALTH_PATH = "/health"  # BentoML's default for endpoints.livez here
STOP_GRACE_SECONDS = 30.0  # BentoML waits 30 s after SIGTERM before it kills


def has_command(service: Service[Any]) -> bool:
    """BentoML's ``Service.has_custom_command``: ``__command__`` in the class, or ``cmd=``."""
    return hasattr(service.inner, "__command__") or _configured(service) is not None


def _configured(service: Service[Any]) -> list[str] | None:
    command: list[str] | None = getattr(service.config, "cmd", None)
    return command


def check_command(inner: type, service_name: str) -> None:
    """At definition: ``__command__`` must be a method (BentoML finds out only at startup)."""
    getter = getattr(inner, "__command__", None)
    if getter is not None and not callable(getter):
        raise BentoMLConfigException(
            f"service {service_name!r}: __command__ must be a method returning the command's "
            f"argv (a list of strings), got {type(getter).__name__} {getter!r}"
        )


def command_of(instance: Any, service: Service[Any]) -> list[str]:
    """The argv ``instance.__command__()`` returns (else ``cmd=``), variables expanded."""
    getter = getattr(instance, "__command__", None)
    argv = getter() if getter is not None else _configured(service)
    if (
        not isinstance(argv, (list, tuple))
        or not argv
        or not all(isinstance(part, (str, os.PathLike)) for part in argv)
    ):
        raise TypeError(f"__command__ must return a non-empty list of strings, got {argv!r}")
    return [string.Template(os.fspath(part)).substitute(os.environ) for part in argv]
