"""A bounded soak over a real socket: sustained concurrent load, then nothing has leaked.

``tiffin serve`` runs ``services/soak.py`` (one worker, ``timeout=1``,
``max_concurrency=8``); 24 concurrent clients send a seeded mix of requests to
two APIs (async, and sync in the thread pool), a mounted FastAPI route, an API
that outlasts the timeout (504), invalid input (400) and a path outside every
route (404); past the concurrency limit they get 429s. After a warm-up, the
measured run lasts ``TIFFIN_SOAK_SECONDS`` (default 30). Then:

- every request got an answer, each one of the statuses its kind allows;
- ``/metrics`` counts exactly what the client counted, per endpoint and status;
- the server's RSS grew by less than ``RSS_GROWTH_LIMIT_MIB`` from after the warm-up
  to after the run, and its asyncio tasks, threads and file descriptors are back
  to where they were.

The figures go to ``artifacts/soak.json`` and are printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.reliability.services.soak import MAX_CONCURRENCY, THREADS, TIMEOUT
from tests.serving import REPO, ServedProcess, serving

SOAK_SECONDS = float(os.environ.get("TIFFIN_SOAK_SECONDS", "30"))
WARMUP_SECONDS = 5.0
CONCURRENCY = 24
SEED = int(os.environ.get("TIFFIN_SOAK_SEED", "9"))
# Generous against allocator noise on a shared machine, yet a leak of a kilobyte a
# request over a 30 s run (some 10^4 requests) would cross it.
RSS_GROWTH_LIMIT_MIB = 8.0
ARTIFACT = REPO / "artifacts" / "soak.json"
IDLE_SECONDS = 1.5  # for keep-alive connections to close and cancelled handlers to finish
SETTLE_SECONDS = 5.0


@dataclass(frozen=True)
class Kind:
    """One kind of request in the mix: how to send it, its metrics label, what it may get."""

    name: str
    weight: int
    method: str
    path: Callable[[random.Random], str]
    body: Any
    label: str
    statuses: frozenset[int]


THROTTLED = 429
MIX = [
    Kind("echo", 40, "POST", lambda _: "/echo", {"text": "soak"}, "/echo", frozenset({200})),
    Kind(
        "echo_sync",
        15,
        "POST",
        lambda _: "/echo_sync",
        {"text": "soak"},
        "/echo_sync",
        frozenset({200}),
    ),
    Kind(
        "mounted",
        30,
        "GET",
        lambda rng: f"/v1/items/{rng.randrange(1000)}",
        None,
        "/v1/items/{item_id}",
        frozenset({200}),
    ),
    Kind("timeout", 2, "POST", lambda _: "/slow", {"seconds": 5}, "/slow", frozenset({504})),
    Kind("invalid", 8, "POST", lambda _: "/echo", {"text": 1}, "/echo", frozenset({400})),
    Kind("missing", 5, "GET", lambda _: "/nowhere", None, "unmatched", frozenset({404})),
]
# A throttled request to the mounted app carries its route's template, as a served one does.
LOAD_ENDPOINTS = {kind.label for kind in MIX}


@dataclass
class Tally:
    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    unanswered: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    requests: int = 0

    def merge(self, other: Tally) -> None:
        self.answers.update(other.answers)
        self.by_kind.update(other.by_kind)
        self.unanswered.update(other.unanswered)
        self.unexpected.extend(other.unexpected)
        self.requests += other.requests


async def drive(url: str, seconds: float, seed: int) -> Tally:
    """``CONCURRENCY`` clients sending the seeded mix for ``seconds``."""
    tally = Tally()
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)

    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def client_loop(number: int) -> None:
            rng = random.Random(seed * 1000 + number)
            weights = [kind.weight for kind in MIX]
            while loop.time() < end:
                kind = rng.choices(MIX, weights)[0]
                tally.requests += 1
                try:
                    response = await client.request(kind.method, kind.path(rng), json=kind.body)
                except httpx.HTTPError as exc:
                    tally.unanswered[type(exc).__name__] += 1
                    continue
                status = response.status_code
                tally.answers[(kind.label, status)] += 1
                tally.by_kind[f"{kind.name} {status}"] += 1
                if status not in kind.statuses | {THROTTLED}:
                    tally.unexpected.append(f"{kind.name}: {status} {response.text[:200]}")

        await asyncio.gather(*(client_loop(number) for number in range(CONCURRENCY)))
    return tally


@dataclass(frozen=True)
class Snapshot:
    """The server process at rest: memory, and what a leak would grow."""

    rss_mib: float
    os_threads: int
    fds: int
    tasks: int
    threads: int

    @classmethod
    def take(cls, server: ServedProcess, *, back_to: Snapshot | None = None) -> Snapshot:
        """After ``IDLE_SECONDS``; with ``back_to``, once tasks and fds are back to it, if ever.

        Connections the client just closed, and handlers just cancelled, take a moment to
        go; a leak never does, so waiting a few seconds for them hides nothing.
        """
        time.sleep(IDLE_SECONDS)
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            snapshot = cls.measure(server)
            if back_to is None or time.monotonic() > deadline:
                return snapshot
            if snapshot.tasks == back_to.tasks and snapshot.fds <= back_to.fds:
                return snapshot
            time.sleep(0.2)

    @classmethod
    def measure(cls, server: ServedProcess) -> Snapshot:
        pid = server.process.pid
        # /proc first: the debug request's own connection is not counted.
        rss, os_threads, fds = (
            rss_mib(pid),
            len(os.listdir(f"/proc/{pid}/task")),
            len(os.listdir(f"/proc/{pid}/fd")),
        )
        counts = httpx.post(f"{server.url}/debug_counts", timeout=10).json()
        assert counts["pid"] == pid  # one worker: the process measured is the one serving
        return cls(rss, os_threads, fds, tasks=counts["tasks"], threads=counts["threads"])


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def served_counts(metrics: str) -> Counter[tuple[str, int]]:
    counts: Counter[tuple[str, int]] = Counter()
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == "bentoml_service_request_total":
                key = (sample.labels["endpoint"], int(sample.labels["http_response_code"]))
                counts[key] = int(sample.value)
    return counts


def test_a_bounded_soak_leaks_nothing_and_metrics_match_the_client(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with serving("tests.reliability.services.soak:Soak") as server:
        cold = Snapshot.take(server)
        tally = asyncio.run(drive(server.url, WARMUP_SECONDS, SEED))
        warm = Snapshot.take(server, back_to=cold)

        rss_samples: list[float] = []

        async def soak() -> Tally:
            async def sample_rss() -> None:
                while True:
                    rss_samples.append(round(rss_mib(server.process.pid), 1))
                    await asyncio.sleep(1)

            sampler = asyncio.create_task(sample_rss())
            try:
                return await drive(server.url, SOAK_SECONDS, SEED + 1)
            finally:
                sampler.cancel()

        began = time.monotonic()
        measured = asyncio.run(soak())
        elapsed = time.monotonic() - began
        after = Snapshot.take(server, back_to=warm)
        tally.merge(measured)
        served = served_counts(httpx.get(f"{server.url}/metrics").text)

    errors = {
        "429 throttled": sum(n for (_, status), n in measured.answers.items() if status == 429),
        "504 timeout": sum(n for (_, status), n in measured.answers.items() if status == 504),
        "400 invalid input": measured.by_kind["invalid 400"],
        "404 no route": measured.by_kind["missing 404"],
        "unanswered": sum(measured.unanswered.values()),
        "unexpected status": len(measured.unexpected),
    }
    figures = {
        "soak_seconds": round(elapsed, 1),
        "warmup_seconds": WARMUP_SECONDS,
        "concurrency": CONCURRENCY,
        "server": {
            "workers": 1,
            "timeout_seconds": TIMEOUT,
            "max_concurrency": MAX_CONCURRENCY,
            "threads": THREADS,
        },
        "requests": measured.requests,
        "requests_per_second": round(measured.requests / elapsed),
        "answers_by_kind": dict(sorted(measured.by_kind.items())),
        "errors_by_kind": errors,
        "rss_mib": {
            "cold": round(cold.rss_mib, 1),
            "after_warmup": round(warm.rss_mib, 1),
            "after_soak": round(after.rss_mib, 1),
            "growth": round(after.rss_mib - warm.rss_mib, 1),
            "limit": RSS_GROWTH_LIMIT_MIB,
            "peak": max(rss_samples, default=after.rss_mib),
            "samples_every_second": rss_samples,
        },
        "asyncio_tasks": {"after_warmup": warm.tasks, "after_soak": after.tasks},
        "threads": {
            "cold": cold.threads,
            "after_warmup": warm.threads,
            "after_soak": after.threads,
        },
        "os_threads": {"after_warmup": warm.os_threads, "after_soak": after.os_threads},
        "file_descriptors": {"after_warmup": warm.fds, "after_soak": after.fds},
        # Since the server started (warm-up and soak): the client's count, then /metrics'.
        "counts_client_vs_metrics": {
            f"{label} {status}": [count, served[(label, status)]]
            for (label, status), count in sorted(tally.answers.items())
        },
        "seed": SEED,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(figures, indent=2) + "\n")
    with capsys.disabled():
        print(f"\nsoak figures, also in {ARTIFACT.relative_to(REPO)}:")
        for key, value in figures.items():
            print(f"  {key}: {json.dumps(value)}")

    # Every request got an answer, of a status its kind allows.
    assert measured.requests > 0
    assert tally.unanswered == Counter(), tally.unanswered
    assert tally.unexpected == [], tally.unexpected[:20]
    # The mix did what it says: timeouts and throttling happened.
    assert errors["504 timeout"] > 0
    assert errors["429 throttled"] > 0
    # /metrics counts exactly what the client counted (warm-up and soak), per endpoint and status.
    load = {key: count for key, count in served.items() if key[0] in LOAD_ENDPOINTS}
    assert load == dict(tally.answers)
    assert {label for label, _ in served} <= LOAD_ENDPOINTS | {
        "/readyz",
        "/debug_counts",
        "/metrics",
    }
    # Nothing leaked.
    assert after.tasks == warm.tasks
    assert after.threads <= cold.threads + THREADS
    assert after.fds <= warm.fds
    assert after.rss_mib - warm.rss_mib < RSS_GROWTH_LIMIT_MIB, figures["rss_mib"]
