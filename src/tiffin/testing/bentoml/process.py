"""The process-wide state BentoML 1.4 needs while its app runs in this process.

- ``/metrics`` reads prometheus_client's multiprocess directory, even with one
  process. While a BentoML app runs, a temporary directory is made and
  ``PROMETHEUS_MULTIPROC_DIR`` points at it (the old value is restored and the
  directory removed afterwards). prometheus_client chooses how it stores values
  when it is first imported, usually long before (tiffin imports it), so the
  multiprocess value class is installed for the same window and put back after.
- Its metrics are registered in prometheus_client's global registry, so a second
  app in one process would fail with ``Duplicated timeseries``: the collectors an
  app registered are unregistered when it stops.
- ``bentoml.get_current_service()`` is one process global: one BentoML service
  runs in-process at a time, and a second one is refused with a clear error.
- BentoML's worker fills ``server_context`` (service name, routes, worker index: the
  ``service_name`` label of its metrics) before composing the app: the same is done
  for the window, and the old values put back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from typing import Any

from tiffin.compat import prometheus_client as prometheus_compat
from tiffin.testing.bentoml.detect import bentoml_module

PROMETHEUS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class BentoMLProcessState:
    """While a BentoML app runs in this process: a prometheus directory, and no other app.

    ``with BentoMLProcessState(Svc):`` is what the harness wraps around an app's
    whole life; usable on its own around ``Svc.to_asgi()`` in a test of yours.
    """

    _lock = threading.Lock()
    _holder: str | None = None

    def __init__(self, service: Any) -> None:
        self.service = service
        self.service_name: str = service.name
        self.directory: str | None = None
        self._old_context: dict[str, Any] | None = None
        self._held = False
        self._old_env: str | None = None
        self._restore_value_class: Callable[[], None] = lambda: None
        self._collectors: set[Any] = set()

    def __enter__(self) -> BentoMLProcessState:
        with self._lock:
            holder = BentoMLProcessState._holder
            if holder is not None:
                raise RuntimeError(
                    f"tiffin: BentoML service {self.service_name!r} cannot start while BentoML "
                    f"service {holder!r} runs in this process: BentoML 1.4 keeps the running "
                    "service (bentoml.get_current_service()) and its metrics in process-wide "
                    "globals, so the two would see each other's. Stop the first one (leave its "
                    "`async with` block or fixture) before starting the next, or run one of "
                    "them with `bentoml serve` (tiffin_bentoml_serve)."
                )
            BentoMLProcessState._holder = self.service_name
            self._held = True
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @classmethod
    def holder(cls) -> str | None:
        """The name of the BentoML service running in this process, if any."""
        return cls._holder

    def _setup(self) -> None:
        from prometheus_client import REGISTRY

        self.directory = tempfile.mkdtemp(prefix="tiffin-bentoml-prometheus-")
        self._old_env = os.environ.get(PROMETHEUS_ENV)
        os.environ[PROMETHEUS_ENV] = self.directory
        # Values made from here on are written to the directory, where BentoML's /metrics
        # reads them (a fresh value class: its files belong to this directory).
        self._restore_value_class = prometheus_compat.store_values_in_files()
        self._collectors = set(prometheus_compat.registered_collectors(REGISTRY))
        self._set_server_context()

    def _set_server_context(self) -> None:
        """What ``_bentoml_impl.worker.service`` sets before ``to_asgi()``, for worker 1."""
        server_context = bentoml_module("bentoml._internal.context").server_context
        join_paths = bentoml_module("bentoml._internal.utils.uri").join_paths
        service = self.service
        bento = service.bento
        values = {
            "worker_index": 1,
            "service_type": "entry_service",
            "service_name": service.name,
            "service_routes": [
                join_paths(service.path_prefix, api.route) for api in service.apis.values()
            ],
            "bento_name": service.name if bento is None else bento.tag.name,
            "bento_version": "not available"
            if bento is None
            else (bento.tag.version or "not available"),
        }
        self._old_context = {name: getattr(server_context, name) for name in values}
        for name, value in values.items():
            setattr(server_context, name, value)

    def close(self) -> None:
        """Undo everything ``__enter__`` did (idempotent)."""
        if self._old_context is not None:
            server_context = bentoml_module("bentoml._internal.context").server_context
            for name, value in self._old_context.items():
                setattr(server_context, name, value)
            self._old_context = None
        if self.directory is not None:
            from prometheus_client import REGISTRY

            for collector in (
                set(prometheus_compat.registered_collectors(REGISTRY)) - self._collectors
            ):
                with contextlib.suppress(KeyError):
                    REGISTRY.unregister(collector)
            self._restore_value_class()
            if os.environ.get(PROMETHEUS_ENV) == self.directory:
                if self._old_env is None:
                    del os.environ[PROMETHEUS_ENV]
                else:
                    os.environ[PROMETHEUS_ENV] = self._old_env
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
        if self._held:
            with self._lock:
                BentoMLProcessState._holder = None
            self._held = False
