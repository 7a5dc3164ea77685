"""The in-process backend for a BentoML service: BentoML's own app, its lifespan, overrides.

The app is ``Svc.to_asgi()`` after the ``on_deployment`` hooks (as ``bentoml serve``
runs them once before its workers start), its lifespan driven by the core's one
lifespan driver (``tiffin.lifespan_driver.LifespanDriver``, what drives a mounted app's
lifespan) under the harness's deadlines, the whole run inside a
``BentoMLProcessState`` window.
"""

from __future__ import annotations

import contextlib
import logging
import os
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from starlette.types import ASGIApp

from tiffin.exceptions import StartupError
from tiffin.lifespan_driver import LifespanDriver
from tiffin.testing.bentoml.detect import bentoml_module
from tiffin.testing.bentoml.process import BentoMLProcessState
from tiffin.testing.failures import HarnessUsageError
from tiffin.testing.loops import DeadlineExceeded, deadline, is_plumbing
from tiffin.testing.overrides import Overrides, patched_attributes, with_dependency_overrides
from tiffin.testing.settings import HarnessSettings, Transport

_logger = logging.getLogger("tiffin.testing.bentoml")
# The traffic keys BentoML 1.4 applies to the app it composes (others are accepted and ignored).
SUPPORTED_TRAFFIC = ("timeout", "max_concurrency")
_BENTOML_DIRS = tuple(
    f"{os.sep}{name}{os.sep}" for name in ("bentoml", "_bentoml_sdk", "_bentoml_impl")
)
_STARTUP_HINT = (
    "Raise the deadline with --tiffin-startup-timeout or the tiffin_startup_timeout ini key."
)
_SHUTDOWN_HINT = "Raise the deadline with --tiffin-shutdown-timeout."


def _where(exc: BaseException) -> str:
    """`` in warm_up() at service.py:12``: the innermost frame of user code in a traceback."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if not is_plumbing(frame.filename) and not any(d in frame.filename for d in _BENTOML_DIRS):
            return f" in {frame.name}() at {frame.filename}:{frame.lineno}"
    return ""


def run_deployment_hooks(service: Any) -> None:
    try:
        serving = bentoml_module("_bentoml_impl.server.serving")
        on_deployment: Callable[[Any], None] = serving.server_on_deployment
    except (ImportError, AttributeError):  # another 1.4.x layout: the hooks alone
        for name in dir(service.inner):
            member = getattr(service.inner, name)
            if callable(member) and getattr(member, "__bentoml_deployment_hook__", False):
                member()
        return
    on_deployment(service)


def compose(service: Any, traffic: Mapping[str, Any] | None = None) -> Any:
    """``service.to_asgi()`` with ``traffic`` overriding the decorator's values, after the
    ``on_deployment`` hooks."""
    run_deployment_hooks(service)
    if not traffic:
        return service.to_asgi(is_main=True)
    config = service.config
    had_traffic = "traffic" in config
    old_traffic = config.get("traffic")
    config["traffic"] = {**(old_traffic or {}), **traffic}
    try:
        return service.to_asgi(is_main=True)  # reads the config once, here
    finally:
        if had_traffic:
            config["traffic"] = old_traffic
        else:
            del config["traffic"]


class AsServed:
    """In-process, answer as ``bentoml serve`` (uvicorn) answers an app that fails.

    An exception escaping BentoML's app (a mounted app's error middleware re-raises
    after its 500) is logged, as uvicorn logs it, and does not reach the test; an app
    that raises or returns before it responds gets uvicorn's ``500 Internal Server
    Error``. So a test sees the same response in-process and over ``bentoml serve``.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception:
            _logger.exception("Exception in ASGI application")
        else:
            if started:
                return
            _logger.error("ASGI callable returned without starting response.")
        if not started:
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": b"Internal Server Error"})


class BentoMLBackend:
    """Runs a BentoML service: ``backend_for(bentoml_service)`` makes one.

    Overrides: class attributes (keyword arguments), ``dependency_overrides`` (every
    mounted FastAPI app) and ``traffic={"timeout": ..., "max_concurrency": ...}`` (the
    keys BentoML applies to the app it composes). Other traffic keys are refused.
    """

    def __init__(
        self,
        service: Any,
        *,
        traffic: Mapping[str, Any] | None,
        attributes: dict[str, Any],
        dependency_overrides: Overrides,
    ) -> None:
        unsupported = sorted(set(traffic or {}) - set(SUPPORTED_TRAFFIC))
        if unsupported:
            raise HarnessUsageError(
                f"tiffin: traffic override {', '.join(map(repr, unsupported))} is not supported "
                f"for BentoML service {service.name!r}: BentoML 1.4 applies only "
                f"{' and '.join(map(repr, SUPPORTED_TRAFFIC))} to the app it serves"
            )
        self.service = service
        self.what = f"BentoML service {service.name!r}"
        self.traffic = traffic
        self.attributes = attributes
        self.dependency_overrides = dependency_overrides
        self._app: ASGIApp | None = None
        self._driver: LifespanDriver | None = None

    @contextlib.contextmanager
    def process_state(self) -> Iterator[None]:
        with (
            BentoMLProcessState(self.service),
            patched_attributes(self.service.inner, self.service.name, self.attributes),
        ):
            yield

    def compose(self, transport: Transport) -> ASGIApp:
        app = compose(self.service, self.traffic)
        app = with_dependency_overrides(
            app,
            (mounted for mounted, _path, _name in self.service.mount_apps),
            self.dependency_overrides,
            self.service.name,
        )
        # Live, uvicorn answers as a server does; in-process, AsServed does it.
        self._app = app if transport == "live" else AsServed(app)
        return self._app

    async def start(self, settings: HarnessSettings) -> None:
        assert self._app is not None, "start() before compose()"
        driver = LifespanDriver(self._app, self.what)
        task = driver.begin()  # the task to read where a hung startup waits
        try:
            async with deadline(
                settings.startup_timeout,
                f"the startup of {self.what}",
                watched=task,
                hint=_STARTUP_HINT,
            ):
                await driver.startup()  # stops the app's lifespan task if this fails
        except DeadlineExceeded:
            raise
        except Exception as exc:
            raise StartupError(
                f"{self.what} failed to start: {type(exc).__name__}: {exc}{_where(exc)}"
            ) from exc
        self._driver = driver

    async def stop(self, settings: HarnessSettings) -> None:
        driver, self._driver = self._driver, None
        if driver is None:
            return
        try:
            async with deadline(
                settings.shutdown_timeout,
                f"the shutdown of {self.what}",
                watched=driver.task,
                hint=_SHUTDOWN_HINT,
            ):
                await driver.shutdown()
        except DeadlineExceeded:
            raise
        except Exception as exc:
            raise RuntimeError(
                f"tiffin: the shutdown of {self.what} failed: "
                f"{type(exc).__name__}: {exc}{_where(exc)}"
            ) from exc
