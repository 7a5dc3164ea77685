"""What runs a service for ``ServiceClient``: ``backend_for(service)`` chooses, plainly.

A backend composes a fresh app for one run (the run's overrides applied to that
app alone), holds whatever process-wide state the app needs, and starts and stops
it in-process. Two exist: ``TiffinBackend`` for a ``@tiffin.service`` (the core's
``app.startup()``/``app.shutdown()``), and ``tiffin.testing.bentoml.BentoMLBackend``
for a ``@bentoml.service`` (BentoML's own app, its lifespan driven by the core's
``LifespanDriver``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, Protocol

from starlette.types import ASGIApp

from tiffin.service import Service
from tiffin.testing.failures import HarnessUsageError
from tiffin.testing.loops import deadline, describe_step
from tiffin.testing.overrides import Overrides, service_for_run, with_dependency_overrides
from tiffin.testing.settings import HarnessSettings, Transport

STARTUP_HINT = (
    "Raise the deadline with --tiffin-startup-timeout or the tiffin_startup_timeout ini key."
)
SHUTDOWN_HINT = "Raise the deadline with --tiffin-shutdown-timeout."


class Backend(Protocol):
    what: str
    """The service as messages name it: ``service 'Svc'``, ``BentoML service 'Svc'``."""

    def process_state(self) -> contextlib.AbstractContextManager[Any]:
        """Held from before ``compose`` to after the run ends."""

    def compose(self, transport: Transport) -> ASGIApp:
        """A fresh app of the service for one run, its overrides applied to it alone."""

    async def start(self, settings: HarnessSettings) -> None:
        """Start the composed app in-process (its lifespan), within the startup deadline."""

    async def stop(self, settings: HarnessSettings) -> None:
        """Stop what ``start`` started (nothing when it did not start)."""


def backend_for(
    service: Any,
    *,
    traffic: Mapping[str, Any] | None = None,
    attributes: Mapping[str, Any] | None = None,
    dependency_overrides: Overrides | None = None,
) -> Backend:
    """The backend running ``service``: a tiffin or a BentoML service, or a clear TypeError."""
    options: dict[str, Any] = {
        "traffic": traffic,
        "attributes": dict(attributes or {}),
        "dependency_overrides": dict(dependency_overrides or {}),
    }
    if isinstance(service, Service):
        return TiffinBackend(service, **options)
    # Imported only here: tiffin never imports bentoml unless handed a BentoML service.
    from tiffin.testing.bentoml.detect import is_bentoml_service

    if is_bentoml_service(service):
        from tiffin.testing.bentoml.client import BentoMLBackend

        return BentoMLBackend(service, **options)
    raise HarnessUsageError(
        "tiffin: expected a tiffin service (a class decorated with @tiffin.service) "
        "or a BentoML service (a class decorated with @bentoml.service), "
        f"got {type(service).__name__} {service!r}"
    )


class TiffinBackend:
    """A tiffin service: a per-run copy of the definition, started by the core."""

    def __init__(
        self,
        service: Service[Any],
        *,
        traffic: Mapping[str, Any] | None,
        attributes: dict[str, Any],
        dependency_overrides: Overrides,
    ) -> None:
        self.service = service_for_run(service, attributes)  # refuses an unknown attribute now
        self.what = f"service {self.service.name!r}"
        self.traffic = dict(traffic) if traffic else None
        self.dependency_overrides = dependency_overrides
        self.app: Any = None  # the ComposedApp of the current run
        self._started = False

    def process_state(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def compose(self, transport: Transport) -> ASGIApp:
        self.app = self.service.to_asgi(traffic=self.traffic)
        return with_dependency_overrides(
            self.app,
            (mount.app for mount in self.service.mounts),
            self.dependency_overrides,
            self.service.name,
        )

    async def start(self, settings: HarnessSettings) -> None:
        """``app.startup()`` under the startup deadline.

        The core rolls a failed or cancelled startup back itself (every step that
        had started is stopped), so a deadline only has to cancel the call. What
        hung is read from ``app.current_step`` as the deadline fires.
        """
        app = self.app
        async with deadline(
            settings.startup_timeout,
            f"the startup of {self.what}",
            describe=lambda task: describe_step(app.current_step, task),
            hint=STARTUP_HINT,
        ):
            await app.startup()
        self._started = True

    async def stop(self, settings: HarnessSettings) -> None:
        if not self._started:
            return
        self._started = False
        app = self.app
        async with deadline(
            settings.shutdown_timeout,
            f"the shutdown of {self.what}",
            describe=lambda task: describe_step(app.current_step, task),
            hint=SHUTDOWN_HINT,
        ):
            await app.shutdown()
