"""Per-request overhead as a service grows: mounts, user middlewares, ``@api`` routes.

Every mounted app is a minimal ASGI callable, so what is measured is tiffin's
own path (guard, metrics, timeout, context, router). The overhead of a variant
is its time per request minus the time of the mounted app called alone. For
the mounts, a Starlette ``Router`` of ``Mount`` routes (matched one by one) is
measured beside it as the linear reference. Requests go through the raw ASGI
driver of ``inprocess.py``.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from inprocess import RawClient, lifespan

MOUNTS = (1, 10, 100)
MIDDLEWARES = (0, 5, 20)
APIS = (1, 100, 1000)


def tiny_app() -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return  # no lifespan support: tiffin skips it quietly
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
            }
        )
        await send({"type": "http.response.body", "body": b"ok"})

    return app


class Passthrough:
    """A user middleware that does nothing but call the next layer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def service_with_mounts(n: int, middlewares: int = 0) -> Any:
    import tiffin

    service = tiffin.service(name=f"Mounts{n}x{middlewares}")(type(f"Mounts{n}", (), {}))
    for i in range(n):
        service.mount_asgi_app(tiny_app(), path=f"/m{i}")
    for _ in range(middlewares):
        service.add_asgi_middleware(Passthrough)
    return service


def service_with_apis(n: int) -> Any:
    import tiffin

    namespace: dict[str, Any] = {}
    for i in range(n):

        async def handler(self: Any) -> str:
            return "ok"

        handler.__name__ = handler.__qualname__ = f"r{i}"
        namespace[f"r{i}"] = tiffin.api(handler)
    return tiffin.service(type(f"Apis{n}", (), namespace))


def starlette_mounts(n: int) -> Any:
    from starlette.routing import Mount, Router

    return Router(routes=[Mount(f"/m{i}", app=tiny_app()) for i in range(n)])


async def _per_request_us(client: RawClient, method: str, path: str, n: int) -> float:
    began = time.perf_counter()
    for _ in range(n):
        await client(method, path)
    return (time.perf_counter() - began) / n * 1e6


async def measure(*, rounds: int, requests: int) -> dict[str, Any]:
    """µs per request of every variant, one value per round, variants interleaved."""
    variants: dict[str, tuple[Any, str, str]] = {"alone": (tiny_app(), "GET", "/x")}
    for n in MOUNTS:
        variants[f"mounts={n}"] = (service_with_mounts(n).to_asgi(), "GET", f"/m{n - 1}/x")
        variants[f"starlette_mounts={n}"] = (starlette_mounts(n), "GET", f"/m{n - 1}/x")
    for k in MIDDLEWARES:
        variants[f"middlewares={k}"] = (service_with_mounts(1, k).to_asgi(), "GET", "/m0/x")
    compose_ms: dict[str, float] = {}
    for n in APIS:
        began = time.perf_counter()
        app = service_with_apis(n).to_asgi()
        compose_ms[f"apis={n}"] = (time.perf_counter() - began) * 1000
        variants[f"apis={n}"] = (app, "POST", f"/r{n - 1}")
    results: dict[str, list[float]] = {name: [] for name in variants}
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, RawClient] = {}
        for name, (app, method, path) in variants.items():
            state = await stack.enter_async_context(lifespan(app))
            clients[name] = RawClient(app, state)
            status = await clients[name](method, path)
            if status != 200:
                raise RuntimeError(f"growth variant {name}: {method} {path} answered {status}")
            await _per_request_us(clients[name], method, path, max(50, requests // 10))
        names = list(variants)
        for round_number in range(rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                _, method, path = variants[name]
                results[name].append(await _per_request_us(clients[name], method, path, requests))
    return {"us_per_request": results, "compose_ms": compose_ms}
