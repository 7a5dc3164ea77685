"""Start and stop a service: the instance, its hooks, and every mounted app's lifespan.

Startup order: ``__init__`` -> ``on_startup`` hooks (definition order) -> the
lifespan of each mounted app, in mount order, through the ASGI lifespan
protocol, so any ASGI app gets its startup. If a step fails, the steps already
started are shut down in reverse and startup fails with a ``StartupError``
naming the service, the step and the original message. Shutdown runs in
reverse and always runs every step.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.types import Message

from tiffin.exceptions import StartupError

if TYPE_CHECKING:
    from tiffin.app import ServiceRuntime
    from tiffin.mounts import Mount

logger = logging.getLogger("tiffin")


_NO_STATE: dict[str, Any] = {}


class ShutdownError(Exception):
    """One or more shutdown steps failed; every step still ran."""


class MountLifespan:
    """Drives one mounted app's lifespan through the ASGI protocol, as a server would."""

    def __init__(self, mount: Mount) -> None:
        self.mount = mount
        self.state: dict[str, Any] = {}
        self.supported = True
        self._received_startup = False
        self._shutdown_requested = asyncio.Event()
        self._startup_answer: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._shutdown_answer: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    async def startup(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"lifespan of mount {self.mount.path}")
        await _first_of(self._startup_answer, self._task)
        if self._startup_answer.done():
            answer = self._startup_answer.result()
            if answer["type"] == "lifespan.startup.complete":
                return
            raise self._failure(answer)
        if not self._received_startup:
            self.supported = False  # raised or returned before receiving: no lifespan support
            return
        if self._error is not None:
            raise self._error
        self.supported = False  # returned after receiving startup without answering

    async def shutdown(self) -> None:
        if self._task is None or not self.supported:
            return
        self._shutdown_requested.set()
        await _first_of(self._shutdown_answer, self._task)
        if self._shutdown_answer.done():
            answer = self._shutdown_answer.result()
            await self._task
            if answer["type"] == "lifespan.shutdown.failed":
                raise self._failure(answer)
        elif self._error is not None:
            raise self._error

    def _failure(self, answer: Message) -> BaseException:
        """The app's own exception if it raised one, else the message it sent.

        Starlette (and so FastAPI) sends a whole traceback as the message of
        ``*.failed`` and then raises the exception itself: that names the cause.
        """
        if self._error is not None:
            return self._error
        return RuntimeError(answer.get("message") or f"the app sent {answer['type']}")

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _run(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.mount.app(scope, self._receive, self._send)
        except Exception as exc:
            self._error = exc

    async def _receive(self) -> Message:
        if not self._received_startup:
            self._received_startup = True
            return {"type": "lifespan.startup"}
        await self._shutdown_requested.wait()
        return {"type": "lifespan.shutdown"}

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind.startswith("lifespan.startup.") and not self._startup_answer.done():
            self._startup_answer.set_result(message)
        elif kind.startswith("lifespan.shutdown.") and not self._shutdown_answer.done():
            self._shutdown_answer.set_result(message)


async def _first_of(answer: asyncio.Future[Message], task: asyncio.Task[None]) -> None:
    """Wait until the app answers, or its lifespan coroutine ends (returned or raised)."""
    waiters: set[asyncio.Future[Any]] = {answer, task}
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)


async def call_hook(hook: Callable[..., Any], instance: Any) -> None:
    result = hook(instance)
    if inspect.isawaitable(result):
        await result


class ServiceLifespan:
    """The startup and shutdown steps of one runtime, with rollback on failure."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.service = runtime.service
        self.mounts: list[MountLifespan] = []
        self._states: dict[int, dict[str, Any]] = {}  # lifespan state by id(app)
        self._instance_created = False

    async def startup(self) -> None:
        name = self.service.name
        try:
            preset = self.runtime.preset_instance
            self.runtime.instance = self.service.inner() if preset is None else preset
        except Exception as exc:
            raise StartupError(
                f"service {name!r} failed to start: {self.service.inner.__qualname__}.__init__ "
                f"raised {type(exc).__name__}: {exc}"
            ) from exc
        self._instance_created = True
        for hook in self.service.startup_hooks:
            try:
                await call_hook(hook, self.runtime.instance)
            except Exception as exc:
                await self._rollback()
                raise StartupError(
                    f"service {name!r} failed to start: on_startup hook {hook.__name__!r} "
                    f"raised {type(exc).__name__}: {exc}"
                ) from exc
        started_apps: set[int] = set()
        for mount in self.service.mounts:
            if id(mount.app) in started_apps:
                continue  # the same app mounted twice starts once
            started_apps.add(id(mount.app))
            lifespan = MountLifespan(mount)
            try:
                await lifespan.startup()
            except Exception as exc:
                lifespan.cancel()  # it never started: no shutdown, but stop its lifespan task
                await self._rollback()
                raise StartupError(
                    f"service {name!r} failed to start: the lifespan of the {mount.framework} "
                    f"app mounted at {mount.path!r} raised {type(exc).__name__}: {exc}"
                ) from exc
            self.mounts.append(lifespan)
            self._states[id(mount.app)] = lifespan.state

    def state_for(self, mount: Mount) -> dict[str, Any]:
        return self._states.get(id(mount.app), _NO_STATE)

    async def _rollback(self) -> None:
        try:
            await self.shutdown()
        except ShutdownError as exc:
            logger.error(
                "service %r: while rolling back a failed startup: %s", self.service.name, exc
            )

    async def shutdown(self) -> None:
        """Mounted apps in reverse, then ``on_shutdown`` hooks; every step runs."""
        failures: list[str] = []
        self._states.clear()
        while self.mounts:
            lifespan = self.mounts.pop()
            try:
                await lifespan.shutdown()
            except Exception as exc:
                lifespan.cancel()
                failures.append(
                    f"the lifespan of the app mounted at {lifespan.mount.path!r} raised "
                    f"{type(exc).__name__}: {exc}"
                )
        if self._instance_created:
            self._instance_created = False
            for hook in self.service.shutdown_hooks:
                try:
                    await call_hook(hook, self.runtime.instance)
                except Exception as exc:
                    logger.exception(
                        "service %r: on_shutdown hook %r failed", self.service.name, hook.__name__
                    )
                    failures.append(
                        f"on_shutdown hook {hook.__name__!r} raised {type(exc).__name__}: {exc}"
                    )
        if failures:
            raise ShutdownError(f"service {self.service.name!r}: " + "; ".join(failures))
