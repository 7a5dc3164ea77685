"""Two Ray nodes on this machine (two `ray start` processes on loopback), one stopped under load."""

from __future__ import annotations

import time

from tests_ray.conftest import REPORTS, target
from tests_ray.load import Load
from tiffin.testing.ray import LocalRay

APP = "SlowTwoNodes"


def replicas_of(processes: list[tuple[int, str]]) -> set[int]:
    return {pid for pid, command in processes if f"ServeReplica:{APP}:" in command}


def test_a_node_stopped_under_load_leaves_the_service_answering(tiffin_ray: LocalRay) -> None:
    node = tiffin_ray.add_node(num_cpus=1)
    try:
        with tiffin_ray.deploy(
            target("slow:Slow"),
            name=APP,
            replicas=2,
            max_replicas_per_node=1,  # one replica on each node
            ray_actor_options={"num_cpus": 0.5},
        ) as url:
            on_node = replicas_of(node.processes())
            on_head = replicas_of(tiffin_ray.nodes[0].processes())
            assert len(on_node) == 1 and len(on_head) == 1, (on_head, on_node)
            with Load(url, "/work") as load:
                load.wait_for(40)
                answered_by = {answer.body for answer in load.answers[-40:]}
                stopped_at = time.monotonic()
                node.stop()
                stop_seconds = time.monotonic() - stopped_at
                load.wait_for(200)
            REPORTS.append(
                f"node stopped under load (SIGTERM, {stop_seconds:.1f}s to exit): {load.summary()}"
            )
            assert len(answered_by) == 2, f"before the stop, replies came from {answered_by}"
            assert len(load.failures()) <= 10, load.summary()
            tail = load.answers[-50:]
            assert all(answer.status == 200 for answer in tail), load.summary()
            assert {answer.body for answer in tail} == {f'{{"pid":{min(on_head)}}}'}
    finally:
        node.stop()
