"""In-process cost of one request: the same routes through each contender, no socket.

Two clients drive each app:

- ``httpx``: ``httpx.AsyncClient`` over ``httpx.ASGITransport`` (what tests use);
- ``raw``: a minimal ASGI driver (one scope dict, one receive, one send), which
  leaves only the app's own cost.

The contenders are started through the ASGI lifespan protocol, measured in
rounds, interleaved, and summarised by medians. Run as a script inside
BentoML's virtualenv (``python inprocess.py --impl bentoml``) it measures
BentoML's ``Service.to_asgi()`` against the bare apps of that environment and
prints JSON; it needs nothing but httpx and the apps.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

APPS_DIR = Path(__file__).resolve().parent / "apps"
BODY = '{"text": "hello"}'
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/v1/async", ""),
    ("GET", "/v1/sync", ""),
    ("POST", "/echo_async", BODY),
    ("POST", "/echo_sync", BODY),
)

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
Call = Callable[[str, str, str], Awaitable[int]]


def route_name(method: str, path: str) -> str:
    return f"{method} {path}"


class RawClient:
    """The least an ASGI server does for one request: a scope, a body, a send collecting status."""

    def __init__(
        self, app: ASGIApp, state: dict[str, Any] | None = None, root_path: str = ""
    ) -> None:
        self.app = app
        self.state = state if state is not None else {}
        self.root_path = root_path

    async def __call__(self, method: str, path: str, body: str = "") -> int:
        payload = body.encode()
        headers = [(b"host", b"bench")]
        if payload:
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": self.root_path,
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("bench", 80),
            "state": dict(self.state),
        }
        sent_body = False
        finished = asyncio.Event()
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": payload, "more_body": False}
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished.set()

        await self.app(scope, receive, send)
        return status


def httpx_client(app: ASGIApp) -> Any:
    import httpx

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")


def httpx_call(client: Any) -> Call:
    async def call(method: str, path: str, body: str = "") -> int:
        headers = {"content-type": "application/json"} if body else None
        response = await client.request(method, path, content=body or None, headers=headers)
        return int(response.status_code)

    return call


@contextlib.asynccontextmanager
async def lifespan(app: ASGIApp) -> AsyncIterator[dict[str, Any]]:
    """Run ``app``'s ASGI lifespan; yield the state it set up."""
    state: dict[str, Any] = {}
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}

    async def run() -> None:
        try:
            await app(scope, inbox.get, outbox.put)
        except Exception as exc:  # an app without lifespan support
            await outbox.put({"type": "unsupported", "message": repr(exc)})
        await outbox.put({"type": "returned"})  # also when it returned without a word

    task = asyncio.create_task(run())
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] == "lifespan.startup.failed":
        raise RuntimeError(f"startup failed: {started.get('message')}")
    try:
        yield state
    finally:
        if started["type"] == "lifespan.startup.complete":
            await inbox.put({"type": "lifespan.shutdown"})
            await outbox.get()
        await task


async def per_request_us(call: Call, method: str, path: str, body: str, n: int) -> float:
    began = time.perf_counter()
    for _ in range(n):
        await call(method, path, body)
    return (time.perf_counter() - began) / n * 1e6


async def compare(
    calls: dict[str, Call],
    routes: tuple[tuple[str, str, str], ...],
    *,
    rounds: int,
    requests: int,
) -> dict[str, dict[str, list[float]]]:
    """µs per request of every call on every route, one value per round, contenders interleaved."""
    names = list(calls)
    for name in names:  # check and warm up
        for method, path, body in routes:
            status = await calls[name](method, path, body)
            if status != 200:
                raise RuntimeError(f"{name}: {method} {path} answered {status}")
            await per_request_us(calls[name], method, path, body, max(20, requests // 10))
    results: dict[str, dict[str, list[float]]] = {
        name: {route_name(m, p): [] for m, p, _ in routes} for name in names
    }
    for round_number in range(rounds):
        shift = round_number % len(names)
        order = names[shift:] + names[:shift]
        for method, path, body in routes:
            for name in order:
                value = await per_request_us(calls[name], method, path, body, requests)
                results[name][route_name(method, path)].append(value)
    return results


def import_app_module(name: str) -> Any:
    if str(APPS_DIR) not in sys.path:
        sys.path.insert(0, str(APPS_DIR))
    return __import__(name)


async def measure(impl: str, *, rounds: int, requests: int) -> dict[str, Any]:
    """Bare ASGI, FastAPI alone and ``impl``'s service (tiffin or bentoml), both clients."""
    bare = import_app_module("bare_asgi").app
    fastapi_app = import_app_module("fastapi_app").build("/v1", with_posts=True)
    service_module = import_app_module("service")
    composed = service_module.BenchService.to_asgi()
    apps: dict[str, ASGIApp] = {"bare": bare, "fastapi": fastapi_app, impl: composed}
    out: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as stack:
        states = {
            name: await stack.enter_async_context(lifespan(app)) for name, app in apps.items()
        }
        raw = {name: RawClient(app, states[name]) for name, app in apps.items()}
        out["raw"] = await compare(raw, ROUTES, rounds=rounds, requests=requests)
        clients = {
            name: await stack.enter_async_context(httpx_client(app)) for name, app in apps.items()
        }
        calls = {name: httpx_call(client) for name, client in clients.items()}
        out["httpx"] = await compare(calls, ROUTES, rounds=rounds, requests=requests)
        if impl == "tiffin":
            out["layers"] = await layer_costs(
                composed, states[impl], service_module.app, rounds=rounds, requests=requests
            )
    return out


LAYER_NAMES = {
    "Router": "router (mount lookup, child scope)",
    "ServiceContextMiddleware": "service context",
    "TimeoutMiddleware": "timeout",
    "MetricsMiddleware": "metrics",
    "ErrorGuardMiddleware": "error guard",
}


async def layer_costs(
    composed: Any, state: dict[str, Any], mounted: ASGIApp, *, rounds: int, requests: int
) -> list[dict[str, Any]]:
    """µs per ``GET /v1/async`` with the chain cut below each layer, innermost first.

    The first row is the mounted FastAPI app called as tiffin calls it (root_path
    ``/v1``); each next row adds one layer of tiffin's chain. Reported: the
    minimum over rounds (the cost of the code itself on a noisy machine) and
    the median.
    """
    layers = []
    node = composed.chain
    while node is not None:
        layers.append(node)
        node = getattr(node, "app", None)  # the router holds no `app`: the chain ends there
    calls: dict[str, Call] = {"mounted FastAPI app alone": RawClient(mounted, root_path="/v1")}
    for layer in reversed(layers):
        name = type(layer).__name__
        calls[LAYER_NAMES.get(name, f"{name} (user middleware)")] = RawClient(layer, state)
    route = (("GET", "/v1/async", ""),)
    results = await compare(
        calls, route, rounds=max(2 * rounds, 10), requests=max(100, requests // 2)
    )
    return [
        {
            "layer": name,
            "min_us": min(per_route["GET /v1/async"]),
            "median_us": median(per_route["GET /v1/async"]),
        }
        for name, per_route in results.items()
    ]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", default="bentoml", choices=["bentoml", "tiffin"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    if args.impl == "bentoml":
        os.environ["BENCH_IMPL"] = "bentoml"
        os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
        # BentoML's metrics need a multiprocess directory even in-process.
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="bench-prom-"))
    result = asyncio.run(measure(args.impl, rounds=args.rounds, requests=args.requests))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
