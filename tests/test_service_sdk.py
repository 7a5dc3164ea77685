"""The rest of BentoML's service SDK: on_deployment, use_arguments, to_asgi(is_main, init),
Service.config and Service.path_prefix."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

import tiffin
from tests.conftest import running_client
from tiffin.arguments import ARGUMENTS_ENV, current_arguments, parse_argument, set_arguments
from tiffin.exceptions import InvalidArgument, StartupError


@pytest.fixture
def arguments() -> Iterator[None]:
    yield
    set_arguments(None)


class ModelArgs(BaseModel):
    model: str = "small"
    size: int = 1


def test_use_arguments_with_a_model(arguments: None) -> None:
    set_arguments({"model": "large", "size": "3"})
    assert tiffin.use_arguments(ModelArgs) == ModelArgs(model="large", size=3)


def test_use_arguments_without_a_model_is_a_namespace(arguments: None) -> None:
    set_arguments({"model": "large"})
    assert tiffin.use_arguments() == types.SimpleNamespace(model="large")


def test_use_arguments_reads_the_environment_of_tiffin_serve(
    arguments: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ARGUMENTS_ENV, '{"model": "from-env"}')
    assert tiffin.use_arguments(ModelArgs).model == "from-env"


def test_invalid_arguments_say_how_to_give_them(arguments: None) -> None:
    set_arguments({"size": "big"})
    with pytest.raises(InvalidArgument, match="provide correct arguments via --arg"):
        tiffin.use_arguments(ModelArgs)


def test_parse_argument() -> None:
    assert parse_argument("a=b=c") == ("a", "b=c")
    with pytest.raises(InvalidArgument, match="KEY=VALUE"):
        parse_argument("novalue")


async def test_on_deployment_runs_once_per_composed_app_before_init() -> None:
    events: list[str] = []

    @tiffin.service
    class Deployed:
        @tiffin.on_deployment
        def prepare() -> None:
            events.append("deploy")

        def __init__(self) -> None:
            events.append("init")

    assert isinstance(Deployed.inner.__dict__["prepare"], staticmethod)
    async with running_client(Deployed):
        pass
    async with running_client(Deployed):
        pass
    assert events == ["deploy", "init", "deploy", "init"]


async def test_a_failing_on_deployment_hook_fails_startup_naming_it() -> None:
    @tiffin.service
    class FailsToDeploy:
        @tiffin.on_deployment
        def prepare() -> None:
            raise OSError("no disk")

    with pytest.raises(StartupError, match="on_deployment hook 'prepare' raised OSError: no disk"):
        async with FailsToDeploy.to_asgi().running():
            pass
    with pytest.raises(StartupError, match="failed to deploy"):
        FailsToDeploy.run_deployment_hooks()


async def test_to_asgi_not_main_serves_no_docs_and_no_index() -> None:
    @tiffin.service
    class Dependency:
        @tiffin.api
        def ping(self) -> str:
            return "pong"

    async with running_client(Dependency.to_asgi(is_main=False)) as client:
        docs = await client.get("/docs")
        index = await client.get("/")
        api = await client.post("/ping")
        ready = await client.get("/readyz")
    assert (docs.status_code, index.status_code) == (404, 404)
    assert (api.text, ready.status_code) == ("pong", 200)


async def test_to_asgi_init_runs_init_at_once() -> None:
    made: list[object] = []

    @tiffin.service
    class Eager:
        def __init__(self) -> None:
            made.append(self)

        @tiffin.api
        def ping(self) -> bool:
            return self is made[0]

    app = Eager.to_asgi(init=True)
    assert len(made) == 1
    async with running_client(app) as client:
        assert (await client.post("/ping")).json() is True
    assert len(made) == 1


def test_service_path_prefix_and_config() -> None:
    @tiffin.service(path_prefix="api/", traffic={"timeout": 3})
    class Prefixed:
        pass

    assert Prefixed.path_prefix == "/api"
    assert Prefixed.config["traffic"]["timeout"] == 3.0
    assert Prefixed.config.traffic.timeout == 3.0


def test_service_applied_twice_is_refused() -> None:
    @tiffin.service
    class Once:
        pass

    from tiffin.exceptions import BentoMLConfigException

    with pytest.raises(BentoMLConfigException, match="applied twice"):
        tiffin.service(Once)  # type: ignore[call-overload]


def test_with_arguments_runs_the_module_again_with_them(arguments: None) -> None:
    from tests.services import sdk_features
    from tiffin.arguments import with_arguments

    fresh = with_arguments(sdk_features.SdkFeatures, {"model_name": "tiny"})
    assert fresh is not sdk_features.SdkFeatures
    assert fresh.name == "SdkFeatures"
    assert sys.modules["tests.services.sdk_features"] is sdk_features  # left as it was
    assert sdk_features.args.model_name == "small"
    assert current_arguments() == {}  # the override did not leak


async def test_with_arguments_serves_the_value(arguments: None) -> None:
    from tests.services import sdk_features
    from tiffin.arguments import with_arguments

    fresh = with_arguments(sdk_features.SdkFeatures, {"model_name": "tiny"})
    async with running_client(fresh) as client:
        assert (await client.post("/model")).text == "tiny"


def test_with_arguments_needs_a_module_level_service() -> None:
    from tiffin.arguments import with_arguments
    from tiffin.exceptions import BentoMLConfigException

    @tiffin.service
    class Local:
        pass

    with pytest.raises(BentoMLConfigException, match="top level of an importable module"):
        with_arguments(Local, {})
