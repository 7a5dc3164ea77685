"""A replica killed under load: Ray replaces it and the service keeps answering."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from tests_ray.conftest import REPORTS, target
from tests_ray.load import Load
from tiffin.testing.ray import LocalRay

REPLACED_SECONDS = 90.0


def replica_pids(cluster: LocalRay, app: str) -> set[int]:
    return {pid for pid, command in cluster.processes() if f"ServeReplica:{app}:" in command}


@pytest.fixture(scope="module")
def slow(tiffin_ray: LocalRay) -> Iterator[str]:
    with tiffin_ray.deploy(
        target("slow:Slow"), replicas=2, ray_actor_options={"num_cpus": 0.5}
    ) as url:
        yield url


def test_a_replica_killed_under_load_is_replaced_and_the_service_keeps_answering(
    tiffin_ray: LocalRay, slow: str
) -> None:
    before = replica_pids(tiffin_ray, "Slow")
    assert len(before) == 2, before
    victim = min(before)
    with Load(slow, "/work") as load:
        load.wait_for(40)
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        deadline = killed_at + REPLACED_SECONDS
        while time.monotonic() < deadline:
            now = replica_pids(tiffin_ray, "Slow")
            if len(now) == 2 and victim not in now:
                break
            time.sleep(0.5)
        replaced_after = time.monotonic() - killed_at
        load.wait_for(200)
    REPORTS.append(
        f"replica killed (SIGKILL) under load: {load.summary()}; "
        f"replaced after {replaced_after:.1f}s; "
        f"what failed requests got: {sorted({f.body[:80] for f in load.failures()})}"
    )
    after = replica_pids(tiffin_ray, "Slow")
    assert victim not in after and len(after) == 2, f"not replaced: {before} -> {after}"
    failures = load.failures()
    assert len(failures) <= 10, load.summary()  # at most the requests the victim held
    # What a client of a crashed replica gets is Ray's answer, not tiffin's JSON error.
    assert all(f.status == 500 and not f.body.startswith('{"error"') for f in failures), failures
    tail = load.answers[-50:]
    assert all(answer.status == 200 for answer in tail), load.summary()
    pids = {int(answer.body.split(":")[1].strip(" }")) for answer in tail}
    assert pids == after, f"the last answers came from {pids}, replicas are {after}"
