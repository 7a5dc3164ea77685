"""tiffin on Ray Serve beside ``tiffin serve --workers 2``: throughput, latency, memory, readiness.

    python benchmarks/ray_bench.py     # writes benchmarks/ray_results.json, prints a table

Three contenders serve the same service (``apps/service.py:BenchService``, the
FastAPI app mounted at ``/v1``) on this machine, one after the other:

- ``tiffin serve --workers 2`` (uvicorn, two worker processes);
- ``tiffin serve --ray --replicas 2`` through Ray Serve's HTTP proxy (a local Ray
  the command starts and stops);
- the same with Ray's direct ingress (``RAY_SERVE_ENABLE_DIRECT_INGRESS=1``): each
  replica serves HTTP on a port of its own, measured on one replica's port.

Figures: seconds from launch to ``/readyz`` answering 200; requests per second
at 32 connections and latency at 1 connection (``GET /v1/async``); the resident
memory of every process the command started (its session and the sessions of
the processes under it: a local Ray runs in sessions of its own). Ratios are Ray's
figure over ``tiffin serve``'s, from the same run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from load import run_load
from servers import APPS_DIR, descendants, free_port, get_status, rss_mb

HERE = Path(__file__).parent
RESULTS = HERE / "ray_results.json"
LOGS = Path(tempfile.gettempdir())
PATH = "/v1/async"
READY_WITHIN = 240.0
SECONDS = 5.0
DIRECT_INGRESS_PORTS = range(30000, 30010)  # Ray allocates replica ports from 30000 up


@dataclass
class Figures:
    key: str
    label: str
    ready_s: float
    rps_32: float
    p50_ms_1: float
    p99_ms_1: float
    errors: int
    memory_mb: float
    processes: int


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def sessions_of(pid: int) -> set[int]:
    """The session of ``pid`` and of every process under it (a local Ray's ``ray start``
    processes run in a session of their own)."""
    found = {pid}
    for child in descendants(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            found.add(int(_stat(child)[3]))
    return found


def sessions_rss(sessions: set[int]) -> tuple[float, int]:
    total, count = 0.0, 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError, RuntimeError):
            fields = _stat(int(entry.name))
            if int(fields[3]) in sessions and fields[0] != "Z":
                total += rss_mb(int(entry.name))
                count += 1
    return total, count


def stop(process: subprocess.Popen[bytes], sessions: set[int]) -> None:
    """SIGTERM to the command only (it stops what it started), then what is left, killed."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        pass
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int(_stat(int(entry.name))[3]) in sessions:
                    os.kill(int(entry.name), signal.SIGKILL)


def measure(key: str, label: str, extra: list[str], env: dict[str, str]) -> Figures:
    port = free_port()
    command = [sys.executable, "-m", "tiffin", "serve", "service.py:BenchService"]
    command += ["--port", str(port), "--log-level", "warning", *extra]
    log = (LOGS / f"ray_bench-{key}.log").open("wb")
    launched = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=APPS_DIR,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    sessions = {process.pid}
    try:
        while get_status(port, "/readyz") != 200:
            if process.poll() is not None or time.perf_counter() - launched > READY_WITHIN:
                raise RuntimeError(f"{label} did not get ready; see {log.name}")
            time.sleep(0.05)
        ready = time.perf_counter() - launched
        target_port = port
        if key == "ray-direct":
            target_port = next(p for p in DIRECT_INGRESS_PORTS if get_status(p, "/readyz") == 200)
        url = f"http://127.0.0.1:{target_port}{PATH}"
        run_load(url, connections=8, seconds=1)  # warm up
        many = run_load(url, connections=32, seconds=SECONDS)
        one = run_load(url, connections=1, seconds=SECONDS)
        sessions = sessions_of(process.pid)
        memory, processes = sessions_rss(sessions)
        return Figures(
            key,
            label,
            round(ready, 2),
            round(many.requests / many.seconds, 1),
            one.percentiles_ms["50"],
            one.percentiles_ms["99"],
            many.errors + one.errors,
            round(memory, 1),
            processes,
        )
    finally:
        stop(process, sessions | sessions_of(process.pid))
        log.close()


def main() -> None:
    ray_env = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
    ray_env["RAY_AUTH_TOKEN"] = os.urandom(16).hex()
    runs = [
        measure("tiffin", "tiffin serve --workers 2", ["--workers", "2"], {}),
        measure(
            "ray-proxy",
            "Ray Serve, proxy (--ray --replicas 2)",
            ["--ray", "--replicas", "2"],
            ray_env,
        ),
        measure(
            "ray-direct",
            "Ray Serve, direct ingress (one replica's port)",
            ["--ray", "--replicas", "2"],
            {**ray_env, "RAY_SERVE_ENABLE_DIRECT_INGRESS": "1"},
        ),
    ]
    base = runs[0]
    document = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "path": PATH,
        "seconds": SECONDS,
        "runs": [asdict(run) for run in runs],
        "ratios_to_tiffin": {
            run.key: {
                "rps_32": round(run.rps_32 / base.rps_32, 3),
                "p50_ms_1": round(run.p50_ms_1 / base.p50_ms_1, 2),
                "memory_mb": round(run.memory_mb / base.memory_mb, 2),
                "ready_s": round(run.ready_s / base.ready_s, 2),
            }
            for run in runs[1:]
        },
    }
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(f"{'contender':48} {'ready s':>8} {'req/s@32':>9} {'p50 ms@1':>9} {'MiB':>7}")
    for run in runs:
        print(
            f"{run.label:48} {run.ready_s:8.1f} {run.rps_32:9.0f} "
            f"{run.p50_ms_1:9.2f} {run.memory_mb:7.0f}"
        )
    print(json.dumps(document["ratios_to_tiffin"], indent=2))


if __name__ == "__main__":
    main()
