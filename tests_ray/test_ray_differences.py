"""Where a service on Ray Serve answers differently from `tiffin serve`: Ray's own answers.

None of these breaks a conformance check (the tiffin-ray columns pass them all):
they are answers Ray's proxy gives before or instead of the replica, shown here as
evidence for the README's table. A replica crashing under a request (Ray's 500) is
in test_replica_killed.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests_ray.conftest import target
from tiffin.testing.ray import LocalRay

PREFIX = "/svc"


@pytest.fixture(scope="module")
def client(tiffin_ray: LocalRay) -> Iterator[httpx.Client]:
    with tiffin_ray.deploy(
        target("slow:Slow"),
        name="SlowUnderPrefix",
        route_prefix=PREFIX,
        timeout=1,
        ray_actor_options={"num_cpus": 0.5},
    ):
        with httpx.Client(base_url=tiffin_ray.url, timeout=30) as client:
            yield client


def test_every_answer_carries_rays_request_id(client: httpx.Client) -> None:
    answer = client.post(f"{PREFIX}/work", json={"seconds": 0})
    assert answer.status_code == 200
    assert len(answer.headers["x-request-id"]) == 36  # a UUID, made by Ray's proxy
    chosen = client.get(f"{PREFIX}/readyz", headers={"x-request-id": "mine"})
    assert chosen.headers["x-request-id"] == "mine"


def test_tiffins_timeout_answers_first(client: httpx.Client) -> None:
    answer = client.post(f"{PREFIX}/work", json={"seconds": 3})
    assert answer.status_code == 504
    assert answer.json() == {"error": "Not able to process the request in 1 seconds"}


def test_rays_own_request_timeout_answers_408_in_plain_text(client: httpx.Client) -> None:
    # Ray's timeout is cluster-wide (set above tiffin's); a client may lower it per request.
    answer = client.post(
        f"{PREFIX}/work", json={"seconds": 0.8}, headers={"x-request-timeout-seconds": "0.2"}
    )
    assert answer.status_code == 408
    assert answer.text.startswith("Request ") and "timed out after 0.2s" in answer.text


def test_a_path_outside_every_application_gets_rays_plain_text_404(client: httpx.Client) -> None:
    answer = client.get("/elsewhere")
    assert answer.status_code == 404
    assert answer.text.startswith("Path '/elsewhere' not found.")
    inside = client.get(f"{PREFIX}/elsewhere")  # under the prefix: tiffin answers its own 404
    assert (inside.status_code, inside.text) == (404, "Not Found")
