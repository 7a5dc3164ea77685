"""Start and stop a service: the instance, its hooks, and every mounted app's lifespan.

Startup order: ``__init__`` -> ``on_startup`` hooks (definition order) -> the
lifespan of each mounted app, in mount order, through the ASGI lifespan
protocol, so any ASGI app gets its startup. Shutdown runs in reverse and always
runs every step.

Startup is cancel-safe: whatever ends it early (a step that raises, a deadline,
Ctrl-C) shuts down the steps already started, in reverse and bounded in time,
before the error goes on. A failing step becomes a ``StartupError`` naming the
service, the step and the original message, with the cause chained.

Each step is a ``Step``, and ``ServiceLifespan.current_step`` is the one running
now, so a diagnostic (the harness's deadlines) names what hung without reading
anybody's frames. A sync ``__init__`` or hook runs in a daemon thread of its own
(``Step.thread``): the event loop stays free while a model loads, so a deadline,
a cancellation or Ctrl-C is handled at once, wherever the loop runs, and a step
that never returns leaves only its thread behind. (The other way, a SIGALRM
interrupting the loop thread, works only in the main thread and takes a signal
that pytest-timeout and user code use too.)
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tiffin import context
from tiffin.exceptions import StartupError
from tiffin.lifespan_driver import LifespanDriver

if TYPE_CHECKING:
    from tiffin.app import ServiceRuntime
    from tiffin.command_process import CommandProcess
    from tiffin.dependencies import DependencyGraph
    from tiffin.mounts import Mount

logger = logging.getLogger("tiffin")

# How long a rollback after a failed or cancelled startup may take, all steps together.
ROLLBACK_TIMEOUT = 10.0

StepKind = Literal[
    "on_deployment", "depends", "__init__", "on_startup", "mount", "command", "on_shutdown"
]
_NO_STATE: dict[str, Any] = {}


@dataclass(eq=False)
class Step:
    """One step of a service's startup or shutdown, as diagnostics see it."""

    kind: StepKind
    name: str  # the class's qualname, the hook's name, or the mount path
    framework: str = ""  # of a mounted app
    thread: threading.Thread | None = None  # the thread a sync step runs in
    task: asyncio.Task[None] | None = field(default=None, repr=False)  # a mount's lifespan

    def describe(self) -> str:
        if self.kind == "__init__":
            return f"{self.name}.__init__"
        if self.kind == "mount":
            return f"the lifespan of the {self.framework} app mounted at {self.name!r}"
        if self.kind == "depends":
            return f"the startup of its dependency, service {self.name!r}"
        if self.kind == "command":
            return f"its __command__ {self.name}"
        return f"{self.kind} hook {self.name!r}"


class ShutdownError(Exception):
    """One or more shutdown steps failed; every step still ran."""


async def run_step(step: Step, func: Callable[..., Any], *args: Any) -> Any:
    """Call ``func``: a coroutine function on the loop, a plain one in a thread of its own.

    The thread is a daemon, so one that never returns does not hold the process
    open; it runs in a copy of this context (``get_current_service()`` works there).
    """
    if inspect.iscoroutinefunction(func):
        return await func(*args)
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[Any] = loop.create_future()
    call = contextvars.copy_context().run

    def settle(result: Any, error: BaseException | None) -> None:
        if outcome.done():
            return  # the step was cancelled: its late outcome has nobody to go to
        if error is None:
            outcome.set_result(result)
        else:
            outcome.set_exception(error)

    def target() -> None:
        result, error = None, None
        try:
            result = call(func, *args)
        except BaseException as exc:
            error = exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:
            pass  # the loop has closed: the step was abandoned long ago

    step.thread = threading.Thread(target=target, name=f"tiffin: {step.describe()}", daemon=True)
    step.thread.start()
    result = await outcome
    if inspect.isawaitable(result):  # a plain function that returned a coroutine
        result = await result
    return result


class ServiceLifespan:
    """The startup and shutdown steps of one runtime, with rollback on any early exit."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.service = runtime.service
        self.current_step: Step | None = None
        self.started = False
        self._drivers: list[tuple[Mount, LifespanDriver]] = []
        self._states: dict[int, dict[str, Any]] = {}  # lifespan state by id(app)
        self._instance_created = False
        self._graph: DependencyGraph | None = None
        self._command: CommandProcess | None = None

    def state_for(self, mount: Mount) -> dict[str, Any]:
        return self._states.get(id(mount.app), _NO_STATE)

    async def startup(self) -> None:
        """Run every startup step; on any early exit, stop what started, then re-raise."""
        if self.started or self.current_step is not None:
            raise RuntimeError(f"service {self.service.name!r} is already started")
        token = context.enter(self.runtime)
        try:
            try:
                await self._start_steps()
            except BaseException:
                await self._rollback()
                raise
        finally:
            context.leave(token)
            self.current_step = None
        self.started = True

    async def shutdown(self) -> None:
        """Mounted apps in reverse, then ``on_shutdown`` hooks; every step runs."""
        self.started = False
        token = context.enter(self.runtime)
        try:
            failures = await self._stop_steps()
        finally:
            context.leave(token)
            self.current_step = None
        if failures:
            raise ShutdownError(f"service {self.service.name!r}: " + "; ".join(failures))

    async def _start_steps(self) -> None:
        await self._start_dependencies()
        inner = self.service.inner
        if self.runtime.deployment_hooks_pending:
            # @on_deployment: once per composed app, before __init__ (tiffin serve runs
            # them itself before its workers start, and clears this).
            self.runtime.deployment_hooks_pending = False
            for hook in self.service.deployment_hooks:
                step = self.current_step = Step("on_deployment", _name_of(hook))
                try:
                    await run_step(step, hook)
                except Exception as exc:
                    raise self._startup_error(step, exc) from exc
        step = self.current_step = Step("__init__", inner.__qualname__)
        try:
            preset, self.runtime.preset_instance = self.runtime.preset_instance, None
            if preset is not None:  # to_asgi(init=True): __init__ already ran
                self.runtime.instance = preset
            else:
                self.runtime.instance = await run_step(step, inner)
        except Exception as exc:
            raise self._startup_error(step, exc) from exc
        self._instance_created = True
        for hook in self.service.startup_hooks:
            step = self.current_step = Step("on_startup", _name_of(hook))
            try:
                await run_step(step, hook, self.runtime.instance)
            except Exception as exc:
                raise self._startup_error(step, exc) from exc
        started_apps: set[int] = set()
        for mount in self.service.mounts:
            if id(mount.app) in started_apps:
                continue  # the same app mounted twice starts once
            started_apps.add(id(mount.app))
            step = self.current_step = Step("mount", mount.path, framework=mount.framework)
            driver = LifespanDriver(mount.app, f"the app mounted at {mount.path}")
            step.task = driver.begin()
            try:
                await driver.startup()
            except Exception as exc:
                raise self._startup_error(step, exc) from exc
            self._drivers.append((mount, driver))
            self._states[id(mount.app)] = driver.state
        await self._start_command()

    # -- depends(): the services this one uses start before its __init__ (dependencies.py)

    async def _start_dependencies(self) -> None:
        from tiffin.dependencies import in_effect

        if self.runtime.dependencies is not None or not in_effect(self.service):
            return  # none, or started by the graph of a dependent, which resolved them
        from tiffin.dependencies import DependencyGraph

        graph = self._graph = DependencyGraph(self.service, self.runtime.dependency_overrides)

        def starting(service_name: str) -> None:
            self.current_step = Step("depends", service_name)

        try:
            self.runtime.dependencies = await graph.start(starting)
        except Exception as exc:
            assert self.current_step is not None
            raise StartupError(
                f"service {self.service.name!r} failed to start: "
                f"{self.current_step.describe()} failed: {exc}"
            ) from exc

    async def _stop_dependencies(self, failures: list[str]) -> None:
        graph, self._graph = self._graph, None
        if graph is None:
            return
        self.runtime.dependencies = None
        try:
            await graph.stop()
        except Exception as exc:
            failures.append(f"stopping its dependencies raised {type(exc).__name__}: {exc}")

    # -- __command__: a process started last, proxied to, stopped first (command.py)

    async def _start_command(self) -> None:
        from tiffin.command import command_of, has_command
        from tiffin.command_process import CommandProcess

        if not has_command(self.service):
            return
        step = self.current_step = Step("command", "")
        try:
            argv = command_of(self.runtime.instance, self.service)
        except Exception as exc:
            raise self._startup_error(step, exc) from exc
        step.name = repr(" ".join(argv))
        states = [self.service.context.state, self.runtime.context.state]
        command = CommandProcess(argv, self.runtime.config, states)
        try:
            await command.start()
        except BaseException as exc:
            await command.stop()
            if isinstance(exc, Exception):
                raise self._startup_error(step, exc) from exc
            raise
        self._command = command
        self.runtime.command = command

    async def _stop_command(self, failures: list[str]) -> None:
        command, self._command = self._command, None
        if command is None:
            return
        self.runtime.command = None
        step = self.current_step = Step("command", repr(" ".join(command.argv)))
        try:
            await command.stop()
        except Exception as exc:
            failures.append(f"{step.describe()} raised {type(exc).__name__}: {exc}")

    def _startup_error(self, step: Step, exc: Exception) -> StartupError:
        if isinstance(exc, StartupError):
            return exc
        return StartupError(
            f"service {self.service.name!r} failed to start: {step.describe()} raised "
            f"{type(exc).__name__}: {exc}"
        )

    async def _rollback(self) -> None:
        """Stop what started, bounded in time, whatever ended startup early."""
        try:
            async with asyncio.timeout(ROLLBACK_TIMEOUT):
                failures = await self._stop_steps()
        except BaseException as exc:
            # Cancelled again, or out of time: stop the mounted lifespans without waiting.
            for _, driver in self._drivers:
                if driver.task is not None:
                    driver.task.cancel()
            self._drivers.clear()
            logger.error(
                "service %r: the rollback of a failed startup did not finish (%s)",
                self.service.name,
                type(exc).__name__,
            )
            if not isinstance(exc, Exception):
                raise
            return
        if failures:
            logger.error(
                "service %r: while rolling back a failed startup: %s",
                self.service.name,
                "; ".join(failures),
            )

    async def _stop_steps(self) -> list[str]:
        failures: list[str] = []
        self._states.clear()
        await self._stop_command(failures)
        while self._drivers:
            mount, driver = self._drivers.pop()
            step = self.current_step = Step("mount", mount.path, framework=mount.framework)
            step.task = driver.task
            try:
                await driver.shutdown()
            except Exception as exc:
                failures.append(f"{step.describe()} raised {type(exc).__name__}: {exc}")
        if self._instance_created:
            self._instance_created = False
            for hook in self.service.shutdown_hooks:
                step = self.current_step = Step("on_shutdown", _name_of(hook))
                try:
                    await run_step(step, hook, self.runtime.instance)
                except Exception as exc:
                    logger.exception("service %r: %s failed", self.service.name, step.describe())
                    failures.append(f"{step.describe()} raised {type(exc).__name__}: {exc}")
        await self._stop_dependencies(failures)
        return failures


def _name_of(hook: Callable[..., Any]) -> str:
    return getattr(hook, "__name__", repr(hook))
