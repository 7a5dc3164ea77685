"""The service configuration: every key of BentoML 1.4's schema, and the keys that take effect.

Keys with a runtime effect are tested by what a client sees (CORS headers, moved
probes, metrics); build and cloud keys by being kept and shown.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

import tiffin
from tests.conftest import running_client
from tiffin.banner import startup_banner
from tiffin.exceptions import BentoMLConfigException
from tiffin.serving import SkipPaths, log_config

# Every key of BentoML 1.4.40's ServiceConfig TypedDict (_bentoml_sdk/service/config.py),
# with a value of the right type, and the arguments @service takes beside it.
FULL_CONFIG: dict[str, Any] = {
    "traffic": {
        "timeout": 30,
        "max_concurrency": 8,
        "concurrency": 4,
        "external_queue": True,
    },
    "extra_ports": [9000],
    "backlog": 2048,
    "max_runner_connections": 16,
    "runner_connection": {"max_requests": 100, "max_age": 300.0},
    "resources": {"cpu": "2", "memory": "4Gi", "gpu": 1, "gpu_type": "nvidia-l4"},
    "workers": 2,
    "replicate_process": False,
    "threads": 4,
    "metrics": {
        "enabled": True,
        "namespace": "my_ns",
        "duration": {"buckets": [0.1, 1.0]},
    },
    "logging": {
        "access": {
            "enabled": True,
            "skip_paths": ["/metrics"],
            "request_content_length": True,
            "request_content_type": True,
            "response_content_length": True,
            "response_content_type": True,
            "format": {"trace_id": "032x", "span_id": "016x"},
        }
    },
    "ssl": {"enabled": False, "certfile": "c.pem", "keyfile": "k.pem", "version": 17},
    "http": {
        "host": "0.0.0.0",
        "port": 3000,
        "proxy_port": 8000,
        "cors": {"enabled": False, "access_control_allow_origins": "*"},
        "response": {"trace_id": False},
    },
    "grpc": {"host": "0.0.0.0", "port": 3001, "reflection": {"enabled": False}},
    "runner_probe": {"enabled": True, "timeout": 1, "period": 10},
    "tracing": {"exporter_type": "otlp", "sample_rate": 0.5, "otlp": {"protocol": "grpc"}},
    "monitoring": {"enabled": True, "type": "default", "options": {}},
    "endpoints": {"livez": "/live", "readyz": "/ready"},
}
SERVICE_ARGUMENTS: dict[str, Any] = {
    "description": "a service",
    "envs": [{"name": "HF_TOKEN", "value": "x"}, {"name": "MODE"}],
    "labels": {"team": "ml"},
    "image": tiffin.images.Image(python_version="3.11").requirements_file("requirements.txt"),
    "cmd": ["vllm", "serve"],
}


def test_every_bentoml_key_is_accepted_and_read_back_as_bentoml_reads_it() -> None:
    @tiffin.service(**FULL_CONFIG, **SERVICE_ARGUMENTS)
    class Everything:
        pass

    config = Everything.config
    assert config["traffic"] == FULL_CONFIG["traffic"] | {"timeout": 30.0}
    assert config["endpoints"] == {"livez": "/live", "readyz": "/ready"}
    assert config.get("tracing")["sample_rate"] == 0.5
    assert set(config.keys()) == set(FULL_CONFIG)
    assert config.traffic.concurrency == 4  # and attributes for tiffin's own code
    assert Everything.labels == {"team": "ml"}
    assert Everything.image.python_version == "3.11"
    assert Everything.cmd == ["vllm", "serve"]
    assert Everything.description == "a service"


def test_only_given_keys_are_in_the_bentoml_view() -> None:
    @tiffin.service(traffic={"timeout": 5})
    class Few:
        pass

    assert Few.config.as_bentoml_dict() == {"traffic": {"timeout": 5.0}}
    assert "resources" not in Few.config
    assert Few.path_prefix == ""


def test_workers_cpu_count() -> None:
    @tiffin.service(workers="cpu_count")
    class PerCore:
        pass

    assert PerCore.config.workers is not None and PerCore.config.workers >= 1


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"http": {"cors": {"allow_origins": ["*"]}}}, "cors.allow_origins"),
        ({"logging": {"acess": {}}}, "acess"),
        ({"metrics": {"duration": {"bucket": [1]}}}, "duration.bucket"),
        ({"endpoints": {"health": "/h"}}, "health"),
    ],
)
def test_an_unknown_nested_key_names_the_service_the_key_and_the_known_keys(
    options: dict[str, Any], key: str
) -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service(**options)
        class Typo:
            pass

    message = str(info.value)
    assert "'Typo'" in message
    assert key in message
    assert "known keys" in message


def test_known_keys_listed_are_those_of_the_nested_group() -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service(http={"cors": {"origins": "*"}})
        class NestedTypo:
            pass

    assert "access_control_allow_origins" in str(info.value)


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"traffic": {"concurrency": 0}}, "concurrency"),
        ({"traffic": {"external_queue": "maybe"}}, "external_queue"),
        ({"http": {"host": "not-an-ip"}}, "host"),
        ({"backlog": 10}, "backlog"),
        ({"tracing": {"sample_rate": 2}}, "sample_rate"),
        ({"labels": {"team": 1}}, "labels"),
        ({"envs": [{"value": "x"}]}, "envs"),
        ({"metrics": {"duration": {"factor": 1.0}}}, "factor"),
    ],
)
def test_a_value_of_the_wrong_type_names_the_service_and_the_key(
    options: dict[str, Any], key: str
) -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service(**options)
        class BadValue:
            pass

    assert "'BadValue'" in str(info.value)
    assert key in str(info.value)


def test_cors_enabled_without_origins_is_refused_at_definition() -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service(http={"cors": {"enabled": True}})
        class NoOrigin:
            pass

    assert "'NoOrigin'" in str(info.value)
    assert "access_control_allow_origins" in str(info.value)


def test_an_unknown_argument_is_still_refused() -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service(trafic={"timeout": 1})  # type: ignore[call-overload]
        class Misspelt:
            pass

    assert "'Misspelt'" in str(info.value)
    assert "trafic" in str(info.value)


def test_recorded_keys_are_the_build_and_cloud_ones() -> None:
    @tiffin.service(**FULL_CONFIG, **SERVICE_ARGUMENTS)
    class Recorded:
        pass

    recorded = Recorded.config.recorded()
    for key in (
        "traffic.concurrency",
        "traffic.external_queue",
        "resources.gpu_type",
        "labels.team",
    ):
        assert key in recorded
    assert recorded["image"].startswith("Image(python 3.11")
    for applied in ("traffic.timeout", "http.cors", "endpoints.livez", "metrics.namespace"):
        assert not any(key.startswith(applied) for key in recorded)


def test_the_banner_shows_the_recorded_keys_and_the_moved_probes() -> None:
    @tiffin.service(
        traffic={"concurrency": 4},
        resources={"gpu_type": "nvidia-l4"},
        endpoints={"readyz": "/health"},
        http={"cors": {"enabled": True, "access_control_allow_origins": ["https://a.example"]}},
    )
    class Shown:
        pass

    banner = startup_banner(Shown, target="m:Shown", host="127.0.0.1", port=3000, workers=1)
    assert "traffic.concurrency = 4" in banner
    assert "resources.gpu_type = nvidia-l4" in banner
    assert "/readyz /metrics /health" in banner
    assert "cors   allow_origins https://a.example" in banner


# --- http.cors ------------------------------------------------------------------------------


def cors_service() -> tiffin.Service[Any]:
    from fastapi import FastAPI

    mounted = FastAPI()

    @mounted.get("/hello")
    def hello() -> str:
        return "hello"

    @tiffin.service(
        http={
            "cors": {
                "enabled": True,
                "access_control_allow_origins": ["https://app.example"],
                "access_control_allow_methods": "POST",
                "access_control_allow_headers": ["content-type"],
                "access_control_expose_headers": "x-request",
            }
        }
    )
    @tiffin.mount_asgi_app(mounted, path="/v1")
    class Cors:
        @tiffin.api
        def echo(self, text: str) -> str:
            return text

    return Cors


@pytest.mark.parametrize("path", ["/echo", "/v1/hello", "/readyz", "/nowhere"])
async def test_cors_preflight_answers_for_every_route(path: str) -> None:
    headers = {"origin": "https://app.example", "access-control-request-method": "POST"}
    async with running_client(cors_service()) as client:
        response = await client.options(path, headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert response.headers["access-control-allow-methods"] == "POST"


async def test_cors_headers_on_api_and_mounted_responses() -> None:
    async with running_client(cors_service()) as client:
        api = await client.post(
            "/echo", json={"text": "x"}, headers={"origin": "https://app.example"}
        )
        mounted = await client.get("/v1/hello", headers={"origin": "https://app.example"})
        other = await client.get("/v1/hello", headers={"origin": "https://evil.example"})
    assert api.headers["access-control-allow-origin"] == "https://app.example"
    assert api.headers["access-control-expose-headers"] == "x-request"
    assert mounted.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers


async def test_cors_disabled_adds_nothing() -> None:
    @tiffin.service(http={"cors": {"access_control_allow_origins": ["*"]}})  # enabled: False
    class NoCors:
        @tiffin.api
        def ping(self) -> str:
            return "pong"

    async with running_client(NoCors) as client:
        response = await client.post("/ping", headers={"origin": "https://a.example"})
    assert "access-control-allow-origin" not in response.headers


async def test_cors_sits_inside_the_user_middlewares_as_in_bentoml() -> None:
    """BentoML's chain: ... -> user middlewares -> CORSMiddleware -> routes."""
    seen: list[str] = []

    class Recorder:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            async def record(message: Any) -> None:
                if message["type"] == "http.response.start":
                    names = {name.decode() for name, _ in message["headers"]}
                    seen.append("cors" if "access-control-allow-origin" in names else "plain")
                await send(message)

            await self.app(scope, receive, record)

    service = cors_service()
    service.add_asgi_middleware(Recorder)
    async with running_client(service) as client:
        await client.post("/echo", json={"text": "x"}, headers={"origin": "https://app.example"})
    assert seen == ["cors"]  # the user middleware sees CORS's headers: CORS is inside it


# --- endpoints --------------------------------------------------------------------------------


async def test_endpoints_serve_the_probes_at_the_configured_paths() -> None:
    @tiffin.service(endpoints={"livez": "/live", "readyz": "/health"})
    class Moved:
        ready = False

        def __is_ready__(self) -> bool:
            return self.ready

    async with running_client(Moved) as client:
        not_ready = await client.get("/health")
        Moved.inner.ready = True
        ready = await client.get("/health")
        live = await client.head("/live")
        posted = await client.post("/health")
        standard = await client.get("/readyz")
    assert (not_ready.status_code, ready.status_code, live.status_code) == (503, 200, 200)
    assert posted.status_code == 405
    assert standard.status_code == 200  # BentoML keeps /livez /healthz /readyz too


def test_an_api_at_a_moved_probe_path_is_refused() -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service(path_prefix="/v1", endpoints={"readyz": "/v1/health"})
        class Clash:
            @tiffin.api
            def health(self) -> str:
                return "mine"

    assert "'Clash'" in str(info.value)
    assert "'/v1/health'" in str(info.value)


async def test_moved_probes_are_whole_paths_and_never_throttled() -> None:
    import asyncio

    release = asyncio.Event()

    @tiffin.service(
        path_prefix="/pp",
        endpoints={"readyz": "/pp/health"},
        traffic={"max_concurrency": 1},
    )
    class Busy:
        @tiffin.api
        async def hold(self) -> str:
            await release.wait()
            return "done"

    async with running_client(Busy) as client:
        held = asyncio.create_task(client.post("/pp/hold"))
        await asyncio.sleep(0.05)
        throttled = await client.post("/pp/hold")
        probe = await client.get("/pp/health")
        release.set()
        assert (await held).status_code == 200
    assert throttled.status_code == 429
    assert probe.status_code == 200


# --- metrics ----------------------------------------------------------------------------------


async def test_metrics_namespace_and_duration_buckets() -> None:
    @tiffin.service(metrics={"namespace": "shop", "duration": {"min": 0.5, "max": 4, "factor": 2}})
    class Measured:
        @tiffin.api
        def ping(self) -> str:
            return "pong"

    async with running_client(Measured) as client:
        await client.post("/ping")
        text = (await client.get("/metrics")).text
    assert "shop_request_total{" in text
    buckets = [
        line
        for line in text.splitlines()
        if line.startswith("shop_request_duration_seconds_bucket") and "/ping" in line
    ]
    assert [line.split('le="')[1].split('"')[0] for line in buckets] == [
        "0.5",
        "1.0",
        "2.0",
        "4.0",
        "+Inf",
    ]


async def test_metrics_disabled_serves_no_metrics_route() -> None:
    @tiffin.service(metrics={"enabled": False})
    class Unmeasured:
        pass

    async with running_client(Unmeasured) as client:
        assert (await client.get("/metrics")).status_code == 404
        assert (await client.get("/livez")).status_code == 200


# --- logging.access ---------------------------------------------------------------------------


def access_record(path: str) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", path, "1.1", 200),
        None,
    )


def test_access_log_skips_the_configured_paths_and_moved_probes() -> None:
    @tiffin.service(logging={"access": {"skip_paths": ["/metrics"]}}, endpoints={"readyz": "/h"})
    class Logged:
        pass

    config = log_config("info", Logged.config.logging.access, extra_skip=("/h",))
    filter_options = config["filters"]["tiffin_skip_paths"]
    assert filter_options["paths"] == ["/metrics", "/h"]
    assert "tiffin_skip_paths" in config["handlers"]["access"]["filters"]
    skip = SkipPaths(filter_options["paths"])
    assert not skip.filter(access_record("/metrics?x=1"))
    assert not skip.filter(access_record("/h"))
    assert skip.filter(access_record("/readyz"))  # logged: the user's list replaced the default
