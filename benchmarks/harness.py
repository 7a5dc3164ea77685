"""The pytest harness's per-test cost: compose, lifespan, one request, shutdown.

``async with ServiceClient(Svc) as c: await c.get(...)`` (what the
``tiffin_client`` fixture does for each test) against the glue a user would
write by hand: ``asgi_lifespan.LifespanManager`` plus ``httpx.ASGITransport``
around ``Svc.to_asgi()``, and the same glue around the FastAPI app alone.
The other ways the harness runs a test, on the trivial service: the sync client
(``with ServiceClient(Svc) as c``, ``tiffin_sync_client``), the live transport
with a server per test, and a fresh client per test to a live server shared by
the session (``--tiffin-live-scope=session``); the report gives each as a ratio
to the in-process harness case.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from inprocess import import_app_module

Case = Callable[[], Awaitable[None]]
_SHARED: dict[str, Any] = {}  # the live session the shared-server case starts once


def _check(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.url} answered {response.status_code}")


def cases() -> dict[str, tuple[str, Case]]:
    from tiffin.testing import ServiceClient
    from tiffin.testing.live_session import LiveSession

    trivial = import_app_module("trivial").Trivial
    service = import_app_module("service").BenchService
    fastapi_module = import_app_module("fastapi_app")

    def harness(svc: Any, method: str, path: str) -> Case:
        async def case() -> None:
            async with ServiceClient(svc) as client:
                _check(await client.request(method, path))

        return case

    def sync_harness(svc: Any, method: str, path: str) -> Case:
        async def case() -> None:
            with ServiceClient(svc) as client:  # blocks this loop; the service has its own
                _check(client.request(method, path))

        return case

    def live(svc: Any, method: str, path: str) -> Case:
        async def case() -> None:
            async with ServiceClient(svc, transport="live") as client:
                _check(await client.request(method, path))

        return case

    def live_shared(svc: Any, method: str, path: str) -> Case:
        async def case() -> None:
            if "session" not in _SHARED:  # started once, by the warm-up, as a session fixture
                _SHARED["session"] = LiveSession(ServiceClient(svc, transport="live")).start()
            async with _SHARED["session"].async_client() as client:
                _check(await client.request(method, path))

        return case

    def glue(make_app: Callable[[], Any], method: str, path: str) -> Case:
        async def case() -> None:
            app = make_app()
            async with (
                LifespanManager(app) as manager,
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
                ) as client,
            ):
                _check(await client.request(method, path))

        return case

    return {
        "harness_trivial": (
            "ServiceClient(Trivial), POST /ping",
            harness(trivial, "POST", "/ping"),
        ),
        "sync_trivial": (
            "with ServiceClient(Trivial) (tiffin_sync_client), POST /ping",
            sync_harness(trivial, "POST", "/ping"),
        ),
        "live_trivial": (
            'ServiceClient(Trivial, transport="live"), a server per test, POST /ping',
            live(trivial, "POST", "/ping"),
        ),
        "live_session_trivial": (
            "a client per test to a live server of Trivial shared by the session, POST /ping",
            live_shared(trivial, "POST", "/ping"),
        ),
        "glue_trivial": (
            "LifespanManager + ASGITransport around Trivial.to_asgi(), POST /ping",
            glue(trivial.to_asgi, "POST", "/ping"),
        ),
        "harness_fastapi_mount": (
            "ServiceClient(BenchService), GET /v1/async",
            harness(service, "GET", "/v1/async"),
        ),
        "glue_fastapi_mount": (
            "LifespanManager + ASGITransport around BenchService.to_asgi(), GET /v1/async",
            glue(service.to_asgi, "GET", "/v1/async"),
        ),
        "glue_fastapi_alone": (
            "LifespanManager + ASGITransport around a fresh FastAPI app, GET /v1/async",
            glue(lambda: fastapi_module.build("/v1"), "GET", "/v1/async"),
        ),
    }


async def measure(*, rounds: int, tests: int) -> dict[str, Any]:
    """Milliseconds per test (one composed app, lifespan, one request, shutdown), per round."""
    found = cases()
    for _, case in found.values():  # warm up
        for _ in range(3):
            await case()
    per_round: dict[str, list[float]] = {key: [] for key in found}
    for round_number in range(rounds):
        keys = list(found)
        shift = round_number % len(keys)
        for key in keys[shift:] + keys[:shift]:
            case = found[key][1]
            began = time.perf_counter()
            for _ in range(tests):
                await case()
            per_round[key].append((time.perf_counter() - began) / tests * 1000)
    for session in _SHARED.values():
        session.stop()
    _SHARED.clear()
    return {
        "descriptions": {key: description for key, (description, _) in found.items()},
        "ms_per_test": per_round,
    }
