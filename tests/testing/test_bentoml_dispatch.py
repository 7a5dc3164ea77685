"""The harness takes tiffin and BentoML services, and imports bentoml only when handed one.

The BentoML side itself is tested where bentoml is installed: ``tests_bentoml/`` and
``examples/bentoml_user/`` under ``.venv-bentoml``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types
from typing import Any

import pytest

from tiffin.testing import ServiceClient
from tiffin.testing.backends import TiffinBackend, backend_for
from tiffin.testing.bentoml import is_bentoml_service
from tiffin.testing.bentoml.client import BentoMLBackend

from .sample_services import Recorder


@pytest.mark.parametrize("wrong", [Recorder.inner, object(), "service:Recorder"])
def test_a_wrong_object_is_refused_naming_both_kinds_of_service(wrong: Any) -> None:
    with pytest.raises(TypeError) as refused:
        backend_for(wrong)
    message = str(refused.value)
    assert "tiffin service (a class decorated with @tiffin.service)" in message
    assert "BentoML service (a class decorated with @bentoml.service)" in message
    assert f"got {type(wrong).__name__}" in message


def test_a_tiffin_service_gets_the_tiffin_backend() -> None:
    assert type(backend_for(Recorder)) is TiffinBackend
    assert type(ServiceClient(Recorder).backend) is TiffinBackend
    assert not is_bentoml_service(Recorder)


def test_a_bentoml_service_gets_the_bentoml_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    # A BentoML service is recognised by the class BentoML defines it with, which exists
    # only once bentoml is imported: a stand-in module plays that part here.
    factory = types.ModuleType("_bentoml_sdk.service.factory")

    class Service:
        name = "Fake"
        inner = type("Fake", (), {})
        mount_apps: list[Any] = []  # noqa: RUF012

    factory.Service = Service  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "_bentoml_sdk.service.factory", factory)
    assert is_bentoml_service(Service())
    assert type(backend_for(Service())) is BentoMLBackend
    assert type(ServiceClient(Service()).backend) is BentoMLBackend
    with pytest.raises(TypeError, match="traffic override 'max_body_size' is not supported"):
        ServiceClient(Service(), traffic={"max_body_size": 1})


NO_BENTOML_IMPORT = """
import sys

attempts = []


class Watch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("bentoml", "_bentoml_sdk", "_bentoml_impl"):
            attempts.append(name)
        return None


sys.meta_path.insert(0, Watch())

import asyncio

import tiffin
import tiffin.testing.plugin
from tiffin.testing import ServiceClient
from tiffin.testing.bentoml import is_bentoml_service


@tiffin.service
class Svc:
    @tiffin.api
    def ping(self) -> str:
        return "pong"


async def main():
    async with ServiceClient(Svc) as client:
        assert (await client.post("/ping")).text == "pong"
    try:
        ServiceClient(object())
    except TypeError:
        pass
    assert not is_bentoml_service(object())


asyncio.run(main())
print(attempts)
"""


def test_tiffin_never_imports_bentoml_unless_handed_a_bentoml_service() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(NO_BENTOML_IMPORT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
