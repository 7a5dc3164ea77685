"""Per-test overrides reach the run they were given for, and nothing else (issue 15, item 13)."""

from __future__ import annotations

import pytest

# Imported here so every pytester run below shares one copy of the module (pytester
# drops modules first imported during a run).
import tests.testing.override_services  # noqa: F401
import tiffin
from tiffin.testing import ServiceClient

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider
"""

SHARED_SERVICE = """
import pytest
import pytest_asyncio

from tests.testing.override_services import Greeter, api, mode
from tiffin.testing import ServiceClient


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared():
    async with ServiceClient(Greeter) as client:  # one service for the whole module
        yield client


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.tiffin_service(Greeter, name="Other", dependency_overrides={mode: lambda: "test"})
async def test_marked(tiffin_client, shared):
    assert (await tiffin_client.post("/hello")).text == "Hello Other"
    assert (await tiffin_client.get("/v1/mode")).json() == "test"
    # The shared service, running all along, still answers with its own values.
    assert (await shared.post("/hello")).text == "Hello World"
    assert (await shared.get("/v1/mode")).json() == "production"
    assert Greeter.inner.name == "World"
    assert api.dependency_overrides == {}


@pytest.mark.asyncio(loop_scope="module")
async def test_unmarked(shared):
    assert (await shared.post("/hello")).text == "Hello World"
    assert (await shared.get("/v1/mode")).json() == "production"
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_a_marker_override_never_reaches_a_shared_running_service(
    pytester: pytest.Pytester, mode: str
) -> None:
    pytester.makeini(INI.format(mode=mode))
    pytester.makepyfile(SHARED_SERVICE)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


@tiffin.service
class Named:
    greeting = "Hello"

    @tiffin.api
    def hello(self) -> str:
        return f"{self.greeting} from {tiffin.get_current_service().greeting}"


async def test_attributes_are_set_on_a_copy_of_the_class() -> None:
    async with ServiceClient(Named, greeting="Hi") as client, ServiceClient(Named) as plain:
        assert (await client.post("/hello")).text == "Hi from Hi"
        assert (await plain.post("/hello")).text == "Hello from Hello"
    assert "greeting" in vars(Named.inner) and Named.inner.greeting == "Hello"


def test_an_unknown_attribute_is_refused_when_the_client_is_made() -> None:
    with pytest.raises(TypeError, match="service 'Named' has no attribute 'colour' to override"):
        ServiceClient(Named, colour="blue")


async def test_name_renames_the_run_when_the_class_has_no_name_attribute() -> None:
    async with ServiceClient(Named, name="Renamed") as client:
        await client.post("/hello")
        metrics = (await client.get("/metrics")).text
        title = (await client.get("/docs.json")).json()["info"]["title"]
    assert 'endpoint="/hello",http_response_code="200",service_name="Renamed"' in metrics
    assert title == "Renamed"
    assert Named.name == "Named"
