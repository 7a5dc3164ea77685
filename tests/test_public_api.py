"""CONTRACT section 1: the public surface, the decorators, and definition-time errors."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware

import tiffin
from tests.conftest import running_client
from tiffin.exceptions import BentoMLConfigException

PUBLIC_NAMES = [
    "Context",
    "Service",
    "ServiceNotRunning",
    "__version__",
    "api",
    "asgi_app",
    "depends",
    "exceptions",
    "get_current_service",
    "images",
    "mount_asgi_app",
    "on_deployment",
    "on_shutdown",
    "on_startup",
    "service",
    "use_arguments",
    "validators",
]


def hello_app() -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    def hello() -> str:
        return "hello"

    return app


# --- the pinned surface -------------------------------------------------------------------------


def test_all_is_sorted() -> None:
    assert tiffin.__all__ == sorted(tiffin.__all__)


def test_all_is_pinned() -> None:
    assert tiffin.__all__ == PUBLIC_NAMES


def test_the_package_exposes_exactly_all() -> None:
    # In a fresh interpreter: modules imported later (lazily) become package attributes too.
    code = "import tiffin; print(' '.join(sorted(n for n in vars(tiffin) if n[0] != '_')))"
    names = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert names == [name for name in PUBLIC_NAMES if not name.startswith("_")]


def test_every_public_name_exists() -> None:
    missing = [name for name in tiffin.__all__ if not hasattr(tiffin, name)]
    assert missing == []


def test_service_not_running_is_a_runtime_error() -> None:
    assert issubclass(tiffin.ServiceNotRunning, RuntimeError)


def test_asgi_app_is_an_alias_of_mount_asgi_app() -> None:
    assert tiffin.asgi_app is tiffin.mount_asgi_app


def test_import_does_not_import_web_frameworks_or_server() -> None:
    code = (
        "import sys, tiffin\n"
        "print(sorted(m for m in ('fastapi', 'quart', 'uvicorn') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


# --- @service -----------------------------------------------------------------------------------


async def test_service_bare() -> None:
    @tiffin.service
    class Bare:
        @tiffin.api
        def echo(self, text: str) -> str:
            return text

    assert isinstance(Bare, tiffin.Service)
    assert Bare.name == "Bare"
    async with running_client(Bare) as client:
        response = await client.post("/echo", json={"text": "hi"})
    assert (response.status_code, response.text) == (200, "hi")


async def test_service_with_arguments() -> None:
    @tiffin.service(name="custom", traffic={"timeout": 5}, path_prefix="/pp")
    class WithArgs:
        @tiffin.api
        def echo(self, text: str) -> str:
            return text

    assert isinstance(WithArgs, tiffin.Service)
    assert WithArgs.name == "custom"
    assert WithArgs.config.traffic.timeout == 5
    async with running_client(WithArgs) as client:
        response = await client.post("/pp/echo", json={"text": "hi"})
    assert (response.status_code, response.text) == (200, "hi")


async def test_mount_below_service() -> None:
    @tiffin.service
    @tiffin.mount_asgi_app(hello_app(), path="/v1")
    class Below:
        pass

    async with running_client(Below) as client:
        response = await client.get("/v1/hello")
    assert (response.status_code, response.json()) == (200, "hello")


async def test_mount_above_service() -> None:
    @tiffin.mount_asgi_app(hello_app(), path="/v1")
    @tiffin.service
    class Above:
        pass

    assert isinstance(Above, tiffin.Service)
    async with running_client(Above) as client:
        response = await client.get("/v1/hello")
    assert (response.status_code, response.json()) == (200, "hello")


async def test_asgi_app_alias_mounts() -> None:
    @tiffin.service
    @tiffin.asgi_app(hello_app(), path="/v1")
    class Aliased:
        pass

    async with running_client(Aliased) as client:
        response = await client.get("/v1/hello")
    assert (response.status_code, response.json()) == (200, "hello")


async def test_mount_method_form() -> None:
    @tiffin.service
    class Method:
        pass

    Method.mount_asgi_app(hello_app(), path="/v2")
    async with running_client(Method) as client:
        response = await client.get("/v2/hello")
    assert (response.status_code, response.json()) == (200, "hello")


def test_calling_the_service_returns_a_plain_instance() -> None:
    events: list[str] = []

    @tiffin.service
    class Plain:
        def __init__(self) -> None:
            events.append("init")
            self.greeting = "hi"

        @tiffin.api
        def shout(self, text: str) -> str:
            return f"{self.greeting} {text.upper()}"

    instance = Plain()
    assert type(instance) is Plain.inner
    assert not isinstance(instance, tiffin.Service)
    assert events == ["init"]
    assert instance.shout("x") == "hi X"


def test_class_attributes_stay_reachable() -> None:
    @tiffin.service
    class Attrs:
        name = "MyService"

    assert Attrs.name == "Attrs"  # the service's name
    assert Attrs.inner.name == "MyService"
    assert Attrs().name == "MyService"


# --- definition-time errors ---------------------------------------------------------------------


def test_unknown_traffic_key() -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service(traffic={"timout": 5})
        class TypoTraffic:
            pass

    assert "TypoTraffic" in str(info.value)
    assert "timout" in str(info.value)


def test_unknown_resources_key() -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service(resources={"cpus": "2"})
        class TypoResources:
            pass

    assert "TypoResources" in str(info.value)
    assert "cpus" in str(info.value)


def test_wrong_traffic_value_type() -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service(traffic={"timeout": "soon"})
        class BadTimeout:
            pass

    assert "BadTimeout" in str(info.value)
    assert "timeout" in str(info.value)


def test_wrong_resources_value_type() -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service(resources={"gpu": "lots"})
        class BadGpu:
            pass

    assert "BadGpu" in str(info.value)
    assert "gpu" in str(info.value)


def test_traffic_not_a_dict() -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service(traffic=10)  # type: ignore[arg-type]
        class TrafficInt:
            pass

    assert "TrafficInt" in str(info.value)
    assert "traffic" in str(info.value)


@pytest.mark.parametrize("path", [1, b"/v1", ["/v1"]])
def test_mount_path_not_a_string(path: Any) -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service
        @tiffin.mount_asgi_app(hello_app(), path=path)
        class BadPath:
            pass

    assert "BadPath" in str(info.value)
    assert repr(path) in str(info.value)


def test_mount_path_not_a_string_method_form() -> None:
    @tiffin.service
    class BadPathMethod:
        pass

    with pytest.raises(BentoMLConfigException) as info:
        BadPathMethod.mount_asgi_app(hello_app(), path=2)  # type: ignore[arg-type]
    assert "BadPathMethod" in str(info.value)
    assert "mount path" in str(info.value)


def test_duplicate_mount_path_after_normalisation() -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service
        @tiffin.mount_asgi_app(hello_app(), path="/v1")
        @tiffin.mount_asgi_app(hello_app(), path="v1/")
        class Twice:
            pass

    assert str(info.value) == (
        "mount path '/v1' is used twice on service 'Twice'; give each mounted app its own path"
    )


def test_duplicate_mount_path_method_form() -> None:
    @tiffin.service(name="twice")
    @tiffin.mount_asgi_app(hello_app(), path="/v1")
    class TwiceMethod:
        pass

    with pytest.raises(BentoMLConfigException) as info:
        TwiceMethod.mount_asgi_app(hello_app(), path="v1/")
    assert "'/v1'" in str(info.value)
    assert "'twice'" in str(info.value)


def test_middleware_not_callable() -> None:
    @tiffin.service
    class NotCallable:
        pass

    with pytest.raises(BentoMLConfigException) as info:
        NotCallable.add_asgi_middleware("TrustedHostMiddleware")  # type: ignore[arg-type]
    assert "NotCallable" in str(info.value)
    assert "'TrustedHostMiddleware'" in str(info.value)
    assert NotCallable.middlewares == []


def test_middleware_options_not_accepted() -> None:
    @tiffin.service
    class BadOptions:
        pass

    with pytest.raises(BentoMLConfigException) as info:
        BadOptions.add_asgi_middleware(TrustedHostMiddleware, allowed=["example.com"])
    assert "BadOptions" in str(info.value)
    assert "TrustedHostMiddleware" in str(info.value)
    assert "allowed" in str(info.value)
    assert BadOptions.middlewares == []


def test_unknown_service_argument() -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service(timeout=10)  # type: ignore[call-overload]
        class UnknownArg:
            pass

    assert "UnknownArg" in str(info.value)
    assert "timeout" in str(info.value)


def test_api_route_must_start_with_slash() -> None:
    with pytest.raises(BentoMLConfigException) as info:

        class RouteNoSlash:
            @tiffin.api(route="predict")
            def predict(self) -> str:
                return ""

    assert "RouteNoSlash" in str(info.value)
    assert "'predict'" in str(info.value)
    assert "'/'" in str(info.value)


def test_api_unsupported_argument() -> None:
    with pytest.raises(BentoMLConfigException) as info:

        class Batched:
            @tiffin.api(batchable=True)  # type: ignore[call-overload]
            def predict(self, text: str) -> str:
                return text

    assert "batchable" in str(info.value)
    assert "Batched" in str(info.value)


def test_api_with_star_args() -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service
        class StarArgs:
            @tiffin.api
            def predict(self, *texts: str) -> str:
                return ""

    assert "StarArgs" in str(info.value)
    assert "'texts'" in str(info.value)


@pytest.mark.parametrize("name", ["models", "task", "build", "batch"])
def test_an_out_of_scope_bentoml_name_says_so(name: str) -> None:
    # BentoML's prebuilt LLM services read bentoml.models.HuggingFaceModel at class level.
    with pytest.raises(AttributeError, match=rf"tiffin has no '{name}': .* is out of its scope"):
        getattr(tiffin, name)


def test_an_unknown_name_is_a_plain_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'tiffin' has no attribute 'nothing'"):
        tiffin.nothing  # type: ignore[attr-defined]  # noqa: B018
