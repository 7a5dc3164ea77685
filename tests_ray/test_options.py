"""The mapping of a service's configuration to Ray Serve's deployment options (no Ray needed)."""

from __future__ import annotations

import pytest

import tiffin
from tiffin.exceptions import BentoMLConfigException
from tiffin.ray import app
from tiffin.ray.options import (
    DEFAULT_MAX_ONGOING_REQUESTS,
    deployment_options,
    memory_bytes,
    request_timeout,
)
from tiffin.ray.replica import with_label


def config_of(**options: object):
    @tiffin.service(**options)
    class Svc:
        pass

    return Svc.config


def test_workers_resources_and_concurrency_map_to_ray_options() -> None:
    config = config_of(
        workers=3,
        resources={"cpu": "500m", "gpu": 1, "memory": "2Gi"},
        traffic={"max_concurrency": 8, "timeout": 20},
    )
    assert deployment_options(config, graceful_timeout=12) == {
        "name": "Svc",
        "num_replicas": 3,
        "max_ongoing_requests": 9,  # one past tiffin's limit: tiffin answers it 429
        "graceful_shutdown_timeout_s": 12,
        "ray_actor_options": {"num_cpus": 0.5, "num_gpus": 1, "memory": 2 * 2**30},
    }
    assert request_timeout(config) == 25.0  # above tiffin's 20 s: its 504 comes first
    assert request_timeout(config, timeout=3) == 8.0


def test_without_settings_one_replica_takes_many_requests() -> None:
    options = deployment_options(config_of(), replicas=2)
    assert options["num_replicas"] == 2
    assert options["max_ongoing_requests"] == DEFAULT_MAX_ONGOING_REQUESTS
    assert "ray_actor_options" not in options  # Ray's own default (1 CPU)


def test_ray_options_complete_the_mapping_and_cannot_contradict_it() -> None:
    config = config_of(resources={"cpu": 2})
    options = deployment_options(
        config, options={"ray_actor_options": {"num_cpus": 0.25}, "health_check_period_s": 2}
    )
    assert options["ray_actor_options"] == {"num_cpus": 0.25}
    assert options["health_check_period_s"] == 2
    with pytest.raises(BentoMLConfigException, match="max_ongoing_requests come from"):
        deployment_options(config, options={"max_ongoing_requests": 4})
    with pytest.raises(BentoMLConfigException, match="replicas must be at least 1"):
        deployment_options(config, replicas=0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512Mi", 512 * 2**20), ("1G", 10**9), ("1.5GB", 1_500_000_000), (1024, 1024)],
)
def test_memory_amounts(text: str | int, expected: int) -> None:
    assert memory_bytes(text) == expected


def test_a_memory_amount_that_is_no_amount_is_named() -> None:
    with pytest.raises(BentoMLConfigException, match="memory='lots' is not an amount"):
        memory_bytes("lots")


def test_the_app_builder_takes_rays_string_arguments() -> None:
    from ray import serve

    from tests_ray.conftest import target

    application = app({"target": target("slow:Slow"), "replicas": "2", "timeout": "5"})
    assert isinstance(application, serve.Application)  # what `serve run` deploys


def test_the_app_builder_names_a_wrong_argument() -> None:
    with pytest.raises(BentoMLConfigException, match="replica: Extra inputs are not permitted"):
        app({"target": "service.py:MyService", "replica": "2"})
    with pytest.raises(BentoMLConfigException, match="target: Field required"):
        app({})


def test_every_metric_sample_gains_the_replica_label() -> None:
    text = (
        "# HELP a_total Requests\n"
        "# TYPE a_total counter\n"
        'a_total{endpoint="/v1",code="200"} 3.0\n'
        "b_gauge 1.0\n"
        "c{} 2.0\n"
    )
    assert with_label(text, "replica", 'r"1') == (
        "# HELP a_total Requests\n"
        "# TYPE a_total counter\n"
        'a_total{replica="r\\"1",endpoint="/v1",code="200"} 3.0\n'
        'b_gauge{replica="r\\"1"} 1.0\n'
        'c{replica="r\\"1"} 2.0\n'
    )


def test_the_documented_serve_config_file_is_valid_for_ray_serve() -> None:
    import yaml
    from ray.serve.schema import ServeDeploySchema

    from tests_ray.conftest import HERE

    text = (HERE.parent / "docs" / "ray" / "serve_config.yaml").read_text()
    config = ServeDeploySchema.model_validate(yaml.safe_load(text))
    (application,) = config.applications
    assert application.import_path == "tiffin.ray:app"
    assert application.args == {"target": "service:MyService", "replicas": 2}
    assert config.http_options.request_timeout_s > 60  # above tiffin's default timeout


def test_the_public_surface_of_tiffin_ray_is_pinned() -> None:
    import tiffin.ray

    assert tiffin.ray.__all__ == ["AppArgs", "app", "application", "deployment"]
    assert all(callable(getattr(tiffin.ray, name)) for name in tiffin.ray.__all__)
