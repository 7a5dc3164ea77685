"""Throughput and latency over loopback: every contender on every route, interleaved.

All contenders are started first and stay up (idle ones cost nothing), then
each round loads every route of every contender in turn, the order rotating
from round to round, so slow drifts of a shared machine hit all of them
alike. The worker's memory is read after the warm-up and after the last round.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from inprocess import BODY
from load import run_load
from servers import Contender, Server, request

ROUTES: tuple[tuple[str, str, str, str], ...] = (
    ("get_async", "GET", "/v1/async", ""),
    ("get_sync", "GET", "/v1/sync", ""),
    ("api_async", "POST", "/echo_async", BODY),
    ("api_sync", "POST", "/echo_sync", BODY),
)
ROUTE_LABELS = {
    "get_async": "mounted async GET /v1/async",
    "get_sync": "mounted sync GET /v1/sync",
    "api_async": "async POST /echo_async",
    "api_sync": "sync POST /echo_sync",
}


def check_routes(server: Server) -> None:
    for _, method, path, body in ROUTES:
        status, content = request(server.port, method, path, body)
        if status != 200:
            raise RuntimeError(f"{server.contender.label}: {method} {path} answered {status}")
        expected = b"hello" if method == "POST" else b'{"message":"hello"}'
        if content.replace(b" ", b"") != expected:
            raise RuntimeError(f"{server.contender.label}: {method} {path} said {content!r}")


def measure(
    contenders: list[Contender],
    log_dir: Path,
    *,
    rounds: int,
    seconds: float,
    warmup_seconds: float,
    connections: int,
    tool: str,
) -> dict[str, Any]:
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        c.key: {route: [] for route, *_ in ROUTES} for c in contenders
    }
    memory: dict[str, dict[str, float]] = {}
    ready: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        servers: dict[str, Server] = {}
        for contender in contenders:
            server = Server(contender, log_dir)
            stack.callback(server.stop)
            ready[contender.key] = server.wait_ready()
            check_routes(server)
            servers[contender.key] = server
        for key, server in servers.items():
            memory[key] = {"started_mb": server.worker_rss_mb()}
            for _, method, path, body in ROUTES if warmup_seconds > 0 else ():
                run_load(
                    server.url + path,
                    method=method,
                    body=body,
                    connections=connections,
                    seconds=warmup_seconds,
                    tool=tool,
                )
            memory[key]["warm_mb"] = server.worker_rss_mb()
        keys = list(servers)
        for round_number in range(rounds):
            shift = round_number % len(keys)
            order = keys[shift:] + keys[:shift]
            for route, method, path, body in ROUTES:
                for key in order:
                    result = run_load(
                        servers[key].url + path,
                        method=method,
                        body=body,
                        connections=connections,
                        seconds=seconds,
                        tool=tool,
                    )
                    results[key][route].append(result.to_json())
        for key, server in servers.items():
            memory[key]["after_mb"] = server.worker_rss_mb()
    return {"runs": results, "memory": memory, "ready_seconds": ready}
