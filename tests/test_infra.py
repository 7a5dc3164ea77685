"""CONTRACT section 8: the health probes /livez, /healthz and /readyz."""

import asyncio
from typing import Any

import httpx
import pytest

import tiffin
from tests.conftest import running_client

GATE_TIMEOUT = 5


@pytest.mark.parametrize("probe", ["/livez", "/healthz"])
async def test_liveness_probes_answer_200(probe: str) -> None:
    @tiffin.service
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.get(probe)
        head = await client.head(probe)

    assert response.status_code == 200
    assert head.status_code == 200


@pytest.mark.parametrize("probe", ["/livez", "/healthz"])
@pytest.mark.parametrize("is_async", [False, True])
async def test_is_alive_false_makes_liveness_probes_503(probe: str, is_async: bool) -> None:
    alive = {"value": True}

    @tiffin.service
    class Svc:
        if is_async:

            async def __is_alive__(self) -> bool:
                return alive["value"]

        else:

            def __is_alive__(self) -> bool:
                return alive["value"]

    async with running_client(Svc) as client:
        before = await client.get(probe)
        alive["value"] = False
        after = await client.get(probe)

    assert before.status_code == 200
    assert after.status_code == 503


async def test_readyz_is_503_without_a_lifespan_then_200_once_started() -> None:
    @tiffin.service
    class Svc:
        pass

    app = Svc.to_asgi()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        before = await client.get("/readyz")
        async with app.running():
            during = await client.get("/readyz")
        after = await client.get("/readyz")

    assert before.status_code == 503
    assert during.status_code == 200
    assert after.status_code == 503


async def test_readyz_is_503_while_an_on_startup_hook_is_still_running() -> None:
    hook_entered = asyncio.Event()
    let_hook_finish = asyncio.Event()

    @tiffin.service
    class Svc:
        @tiffin.on_startup
        async def load(self) -> None:
            hook_entered.set()
            await asyncio.wait_for(let_hook_finish.wait(), GATE_TIMEOUT)

    app = Svc.to_asgi()
    started = asyncio.Event()
    stop = asyncio.Event()

    async def serve() -> None:
        async with app.running():
            started.set()
            await asyncio.wait_for(stop.wait(), GATE_TIMEOUT)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        server = asyncio.create_task(serve())
        await asyncio.wait_for(hook_entered.wait(), GATE_TIMEOUT)
        while_loading = await client.get("/readyz")
        live_while_loading = await client.get("/livez")
        let_hook_finish.set()
        await asyncio.wait_for(started.wait(), GATE_TIMEOUT)
        once_started = await client.get("/readyz")
        stop.set()
        await server

    assert while_loading.status_code == 503
    assert live_while_loading.status_code == 200
    assert once_started.status_code == 200


async def test_readyz_is_503_while_a_mounted_app_is_still_starting() -> None:
    app_entered = asyncio.Event()
    let_app_finish = asyncio.Event()

    async def slow_lifespan(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            return
        await receive()
        app_entered.set()
        await asyncio.wait_for(let_app_finish.wait(), GATE_TIMEOUT)
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    @tiffin.service
    @tiffin.mount_asgi_app(slow_lifespan, path="/slow")
    class Svc:
        pass

    app = Svc.to_asgi()
    started = asyncio.Event()
    stop = asyncio.Event()

    async def serve() -> None:
        async with app.running():
            started.set()
            await asyncio.wait_for(stop.wait(), GATE_TIMEOUT)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        server = asyncio.create_task(serve())
        await asyncio.wait_for(app_entered.wait(), GATE_TIMEOUT)
        while_starting = await client.get("/readyz")
        let_app_finish.set()
        await asyncio.wait_for(started.wait(), GATE_TIMEOUT)
        once_started = await client.get("/readyz")
        stop.set()
        await server

    assert while_starting.status_code == 503
    assert once_started.status_code == 200


@pytest.mark.parametrize("is_async", [False, True])
async def test_is_ready_false_makes_readyz_503(is_async: bool) -> None:
    ready = {"value": False}

    @tiffin.service
    class Svc:
        if is_async:

            async def __is_ready__(self) -> bool:
                return ready["value"]

        else:

            def __is_ready__(self) -> bool:
                return ready["value"]

    async with running_client(Svc) as client:
        not_ready = await client.get("/readyz")
        live = await client.get("/livez")
        ready["value"] = True
        now_ready = await client.get("/readyz")

    assert not_ready.status_code == 503
    assert live.status_code == 200
    assert now_ready.status_code == 200


@pytest.mark.parametrize("probe", ["/livez", "/healthz", "/readyz", "/metrics"])
async def test_probes_are_served_under_the_path_prefix(probe: str) -> None:
    @tiffin.service(path_prefix="/pp")
    class Svc:
        pass

    async with running_client(Svc) as client:
        prefixed = await client.get(f"/pp{probe}")
        bare = await client.get(probe)

    assert prefixed.status_code == 200
    assert bare.status_code == 404


@pytest.mark.parametrize("probe", ["/livez", "/healthz", "/readyz", "/metrics"])
async def test_probes_answer_get_and_head_only(probe: str) -> None:
    @tiffin.service
    class Svc:
        pass

    async with running_client(Svc) as client:
        response = await client.post(probe)

    assert response.status_code == 405
    assert "GET" in response.headers["allow"]
