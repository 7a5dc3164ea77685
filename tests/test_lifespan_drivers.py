"""CONTRACT section 9 with the drivers users run a composed app under.

asgi-lifespan's ``LifespanManager`` and Starlette's ``TestClient`` (what BentoML's
testing guide uses) must report a failed startup or shutdown at once, with its
cause: never a bare timeout, never a hang. Each case runs under a hard limit.
And a startup cut short from outside leaves nothing running.
"""

import asyncio
import threading
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

import tiffin
from tiffin.exceptions import StartupError
from tiffin.lifespan import ShutdownError

HARD_LIMIT = 10  # seconds: far above what a prompt report takes, far below a hang
Events = list[str]


def starlette_app(events: Events, name: str, *, fail: str = "") -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append(f"{name} startup")
        if fail == "startup":
            raise RuntimeError(f"{name} could not start")
        yield
        events.append(f"{name} shutdown")
        if fail == "shutdown":
            raise RuntimeError(f"{name} could not stop")

    return Starlette(lifespan=lifespan)


def failing_service(events: Events, where: str) -> Any:
    """A service that fails at ``where``: a mount's or a hook's startup, or a mount's shutdown."""

    @tiffin.service(name="Failing")
    class Failing:
        @tiffin.on_startup
        def load(self) -> None:
            events.append("on_startup")
            if where == "hook":
                raise RuntimeError("the model file is missing")

        @tiffin.on_shutdown
        def close(self) -> None:
            events.append("on_shutdown")

    Failing.mount_asgi_app(starlette_app(events, "ok"), path="/ok")
    fail = {"mount": "startup", "mount-shutdown": "shutdown"}.get(where, "")
    Failing.mount_asgi_app(starlette_app(events, "bad", fail=fail), path="/bad")
    return Failing


STARTUP_FAILURES = {
    "hook": ("on_startup hook 'load'", "the model file is missing"),
    "mount": ("mounted at '/bad'", "bad could not start"),
}


@pytest.mark.parametrize("where", list(STARTUP_FAILURES))
async def test_lifespan_manager_raises_the_startup_failure_at_once(where: str) -> None:
    events: Events = []
    app = failing_service(events, where).to_asgi()

    with pytest.raises(StartupError) as caught:
        async with asyncio.timeout(HARD_LIMIT):
            async with LifespanManager(app, startup_timeout=HARD_LIMIT * 2):
                pass

    step, cause = STARTUP_FAILURES[where]
    assert "'Failing'" in str(caught.value)
    assert step in str(caught.value)
    assert cause in str(caught.value.__cause__)
    assert events[-1] == "on_shutdown"  # rolled back before reporting


async def test_lifespan_manager_raises_the_shutdown_failure_at_once() -> None:
    events: Events = []
    app = failing_service(events, "mount-shutdown").to_asgi()

    with pytest.raises(ShutdownError, match="bad could not stop"):
        async with asyncio.timeout(HARD_LIMIT):
            async with LifespanManager(app, shutdown_timeout=HARD_LIMIT * 2):
                pass

    assert events[-3:] == ["bad shutdown", "ok shutdown", "on_shutdown"]


def starlette_test_client(app: Any) -> Any:
    """Starlette's TestClient; with plain httpx (not httpx2) its import warns: not our concern."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient
    return TestClient(app)


def within_hard_limit(body: Callable[[], None]) -> BaseException | None:
    """Run a blocking ``body`` in a thread; fail the test if it is still running at the limit."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            body()
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HARD_LIMIT)
    if thread.is_alive():
        pytest.fail(f"still running after {HARD_LIMIT}s: the driver hangs")
    return outcome[0]


@pytest.mark.parametrize("where", list(STARTUP_FAILURES))
def test_test_client_raises_the_startup_failure_on_entering_with(where: str) -> None:
    events: Events = []
    app = failing_service(events, where).to_asgi()
    entered: list[bool] = []

    def enter() -> None:
        with starlette_test_client(app):
            entered.append(True)

    error = within_hard_limit(enter)

    assert isinstance(error, StartupError)
    assert STARTUP_FAILURES[where][0] in str(error)
    assert entered == []


def test_test_client_raises_the_shutdown_failure_on_leaving_with() -> None:
    events: Events = []
    app = failing_service(events, "mount-shutdown").to_asgi()
    answers: list[int] = []

    def use() -> None:
        with starlette_test_client(app) as client:
            answers.append(client.get("/readyz").status_code)

    error = within_hard_limit(use)

    assert answers == [200]
    assert isinstance(error, ShutdownError)
    assert "bad could not stop" in str(error)


async def test_a_startup_cancelled_half_way_leaves_nothing_running() -> None:
    events: Events = []
    hook_waiting = asyncio.Event()

    @tiffin.service(name="Cancelled")
    class Cancelled:
        @tiffin.on_startup
        async def wait_forever(self) -> None:
            events.append("on_startup")
            hook_waiting.set()
            await asyncio.Event().wait()

        @tiffin.on_shutdown
        def close(self) -> None:
            events.append("on_shutdown")

    Cancelled.mount_asgi_app(starlette_app(events, "never"), path="/never")
    app = Cancelled.to_asgi()
    tasks_before = asyncio.all_tasks()

    starting = asyncio.create_task(app.startup())
    await asyncio.wait_for(hook_waiting.wait(), HARD_LIMIT)
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(starting, HARD_LIMIT)

    assert events == ["on_startup", "on_shutdown"]
    assert app.runtime.instance is not None  # kept until shutdown() clears it
    assert asyncio.all_tasks() - tasks_before == set()
    assert not app.started


async def test_a_startup_cancelled_in_a_mounted_lifespan_stops_the_mounts_that_started() -> None:
    events: Events = []
    blocked = asyncio.Event()

    @asynccontextmanager
    async def hangs(app: Starlette) -> AsyncIterator[None]:
        events.append("slow startup")
        blocked.set()
        try:
            await asyncio.Event().wait()
        finally:
            events.append("slow cancelled")
        yield

    @tiffin.service(name="HalfMounted")
    class HalfMounted:
        @tiffin.on_shutdown
        def close(self) -> None:
            events.append("on_shutdown")

    HalfMounted.mount_asgi_app(starlette_app(events, "first"), path="/first")
    HalfMounted.mount_asgi_app(Starlette(lifespan=hangs), path="/slow")
    app = HalfMounted.to_asgi()
    tasks_before = asyncio.all_tasks()

    starting = asyncio.create_task(app.startup())
    await asyncio.wait_for(blocked.wait(), HARD_LIMIT)
    assert app.current_step is not None and app.current_step.describe().endswith("'/slow'")
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(starting, HARD_LIMIT)

    assert events == [
        "first startup",
        "slow startup",
        "slow cancelled",
        "first shutdown",
        "on_shutdown",
    ]
    assert asyncio.all_tasks() - tasks_before == set()


async def test_a_sync_step_runs_in_a_thread_of_its_own_the_loop_stays_free() -> None:
    release = threading.Event()
    seen: list[str] = []

    @tiffin.service(name="SyncLoad")
    class SyncLoad:
        def __init__(self) -> None:
            seen.append(threading.current_thread().name)
            release.wait(HARD_LIMIT)

    app = SyncLoad.to_asgi()
    starting = asyncio.create_task(app.startup())
    while app.current_step is None or app.current_step.thread is None:
        await asyncio.sleep(0.01)  # the loop runs while __init__ blocks
    step = app.current_step
    assert (
        step.describe() == "test_a_sync_step_runs_in_a_thread_of_its_own_the_loop_stays_free"
        ".<locals>.SyncLoad.__init__"
    )
    release.set()
    await asyncio.wait_for(starting, HARD_LIMIT)
    await app.shutdown()
    assert seen == [f"tiffin: {step.describe()}"]
