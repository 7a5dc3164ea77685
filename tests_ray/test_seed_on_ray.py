"""The seed's FastAPI example on two Ray Serve replicas: routes, replicas, lifecycle, /metrics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests_ray.conftest import target
from tests_ray.services.recorded import RECORDS_ENV
from tiffin.testing.ray import LocalRay

REPLICA = re.compile(
    r'^bentoml_service_request_total\{replica="([^"]+)",endpoint="/v1/hello1"', re.M
)


@dataclass
class Deployed:
    url: str
    records: Path
    stack: ExitStack = field(default_factory=ExitStack)

    def lifecycles(self) -> dict[str, list[str]]:
        """What each replica process recorded, by pid."""
        return {log.stem: log.read_text().splitlines() for log in self.records.glob("*.log")}


@pytest.fixture(scope="module")
def seed(tiffin_ray: LocalRay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    records = tmp_path_factory.mktemp("records")
    deployed = Deployed("", records)
    with deployed.stack:
        deployed.url = deployed.stack.enter_context(
            tiffin_ray.deploy(
                target("recorded:MyService"),
                replicas=2,
                ray_actor_options={
                    "num_cpus": 0.5,
                    "runtime_env": {"env_vars": {RECORDS_ENV: str(records)}},
                },
            )
        )
        yield deployed


def test_the_seed_routes_answer_as_under_tiffin_serve(seed: Deployed) -> None:
    with httpx.Client(base_url=seed.url, timeout=10) as client:
        inside = client.get("/v1/hello")  # defined in the class: `self`
        outside = client.get("/v1/hello1")  # defined after the class: Depends(get_current_service)
        ready = client.get("/readyz")
    assert (inside.status_code, inside.json()) == (200, "Hello MyService")
    assert (outside.status_code, outside.json()) == (200, "Hello MyService")
    assert ready.status_code == 200


def test_both_replicas_answer_and_each_ran_its_startup(seed: Deployed) -> None:
    lifecycles = seed.lifecycles()
    assert len(lifecycles) == 2, lifecycles
    for steps in lifecycles.values():
        assert steps == ["on_startup", "fastapi startup"]
    seen: set[str] = set()
    with httpx.Client(base_url=seed.url, timeout=10) as client:
        for _ in range(60):  # Ray picks a replica per request; both get some
            assert client.get("/v1/hello1").status_code == 200
            seen.update(REPLICA.findall(client.get("/metrics").text))
            if len(seen) == 2:
                break
    assert len(seen) == 2, f"requests reached replicas {seen}"


def test_metrics_are_the_answering_replicas_own_labelled_with_it(seed: Deployed) -> None:
    with httpx.Client(base_url=seed.url, timeout=10) as client:
        scrapes = [client.get("/metrics") for _ in range(10)]
    for scrape in scrapes:
        assert scrape.status_code == 200
        samples = [line for line in scrape.text.splitlines() if line and not line.startswith("#")]
        replicas = {re.match(r'^\w+\{replica="([^"]+)"', line).group(1) for line in samples}
        assert len(replicas) == 1, replicas  # every sample names the one replica answering
        assert int(scrape.headers["content-length"]) == len(scrape.content)


def test_each_replica_shuts_down_what_it_started(seed: Deployed) -> None:
    seed.stack.close()  # deletes the application: Ray stops both replicas gracefully
    lifecycles = seed.lifecycles()
    assert len(lifecycles) == 2
    for steps in lifecycles.values():
        assert steps == ["on_startup", "fastapi startup", "fastapi shutdown", "on_shutdown"]
