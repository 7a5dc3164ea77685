"""depends(): a service using others in one process, and over HTTP with url=."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import tiffin
from tests.conftest import running_client
from tests.serving import served
from tiffin.exceptions import BentoMLConfigException, BentoMLException, NotFound, StartupError


def event_services(events: list[str]) -> tuple[Any, Any, Any]:
    """Storage <- Model <- Frontend, each recording its lifecycle in ``events``."""

    @tiffin.service
    class Storage:
        def __init__(self) -> None:
            events.append("Storage.__init__")

        @tiffin.on_startup
        def opened(self) -> None:
            events.append("Storage.on_startup")

        @tiffin.on_shutdown
        def closed(self) -> None:
            events.append("Storage.on_shutdown")

        @tiffin.api
        def load(self, key: str) -> str:
            return f"stored:{key}"

    @tiffin.service
    class Model:
        storage = tiffin.depends(Storage)

        def __init__(self) -> None:
            events.append(f"Model.__init__ sees {self.storage.load('w')}")

        @tiffin.on_shutdown
        async def closed(self) -> None:
            events.append("Model.on_shutdown")

        @tiffin.api
        def predict(self, text: str) -> str:
            return text.upper()

        @tiffin.api
        async def apredict(self, text: str) -> str:
            return text[::-1]

        @tiffin.api
        def tokens(self, text: str) -> Iterator[str]:
            yield from text.split()

        @tiffin.api
        async def atokens(self, text: str) -> AsyncIterator[str]:
            for word in text.split():
                yield word

        @tiffin.api
        def whoami(self) -> str:
            return type(tiffin.get_current_service()).__name__

    @tiffin.service
    class Frontend:
        model = tiffin.depends(Model)
        storage = tiffin.depends(Storage)  # shared with Model: one Storage in the graph

        def __init__(self) -> None:
            events.append("Frontend.__init__")

        @tiffin.on_shutdown
        def closed(self) -> None:
            events.append("Frontend.on_shutdown")

        @tiffin.api
        def sync_call(self, text: str) -> str:
            return self.model.predict(text)

        @tiffin.api
        async def async_call(self, text: str) -> str:
            return await self.model.apredict(text) + (await self.model.to_async.predict(text))

        @tiffin.api
        def to_sync_call(self, text: str) -> str:
            return self.model.to_sync.apredict(text)

        @tiffin.api
        async def streams(self, text: str) -> list[str]:
            words = [w async for w in self.model.to_async.tokens(text)]
            return words + [w async for w in self.model.atokens(text)]

        @tiffin.api
        def sync_streams(self, text: str) -> list[str]:
            return list(self.model.to_sync.atokens(text))

        @tiffin.api
        def who(self) -> list[str]:
            return [self.model.whoami(), type(tiffin.get_current_service()).__name__]

        @tiffin.api
        def same_storage(self) -> bool:
            return self.storage.instance is self.model.instance.storage.instance

    return Storage, Model, Frontend


async def test_dependencies_start_before_and_stop_after_the_dependent() -> None:
    events: list[str] = []
    _, _, frontend = event_services(events)
    async with running_client(frontend):
        assert events == [
            "Storage.__init__",
            "Storage.on_startup",
            "Model.__init__ sees stored:w",
            "Frontend.__init__",
        ]
        events.clear()
    assert events == ["Frontend.on_shutdown", "Model.on_shutdown", "Storage.on_shutdown"]


async def test_apis_are_callable_sync_async_and_streaming() -> None:
    _, _, frontend = event_services([])
    async with running_client(frontend) as client:
        assert (await client.post("/sync_call", json={"text": "ab"})).text == "AB"
        assert (await client.post("/async_call", json={"text": "ab"})).text == "baAB"
        assert (await client.post("/to_sync_call", json={"text": "ab"})).text == "ba"
        assert (await client.post("/streams", json={"text": "a b"})).json() == list("abab")
        assert (await client.post("/sync_streams", json={"text": "a b"})).json() == ["a", "b"]


async def test_a_call_runs_as_the_dependency_and_a_shared_dependency_runs_once() -> None:
    _, _, frontend = event_services([])
    async with running_client(frontend) as client:
        assert (await client.post("/who")).json() == ["Model", "Frontend"]
        assert (await client.post("/same_storage")).json() is True


async def test_the_proxy_offers_only_apis() -> None:
    _, _, frontend = event_services([])
    app = frontend.to_asgi()
    async with app.running():
        proxy = app.runtime.instance.model
        with pytest.raises(AttributeError, match=r"'closed' is not an API of service 'Model'"):
            proxy.closed  # noqa: B018
        with pytest.raises(BentoMLException, match=r"await proxy.to_async.apredict"):
            proxy.to_sync.apredict("x")  # blocking on the running loop would deadlock


async def test_a_failing_dependency_fails_the_dependent_naming_it() -> None:
    @tiffin.service
    class Broken:
        def __init__(self) -> None:
            raise RuntimeError("no GPU")

    @tiffin.service
    class User:
        broken = tiffin.depends(Broken)

        def __init__(self) -> None:
            raise AssertionError("never reached")

    app = User.to_asgi()
    with pytest.raises(StartupError, match=r"its dependency, service 'Broken'.*no GPU"):
        await app.startup()


async def test_a_dependency_is_replaced_by_a_stand_in() -> None:
    events: list[str] = []
    _, model, frontend = event_services(events)

    @tiffin.service
    class FakeModel:
        @tiffin.api
        def predict(self, text: str) -> str:
            return "fake"

        @tiffin.on_shutdown
        def closed(self) -> None:
            events.append("FakeModel.on_shutdown")

    async with running_client(frontend.to_asgi(dependencies={model: FakeModel})) as client:
        assert (await client.post("/sync_call", json={"text": "ab"})).text == "fake"
        assert "Model.__init__ sees stored:w" not in events
    assert "FakeModel.on_shutdown" in events

    class Stub:
        def predict(self, text: str) -> str:
            return "stub"

    async with running_client(frontend.to_asgi(dependencies={model: Stub()})) as client:
        assert (await client.post("/sync_call", json={"text": "ab"})).text == "stub"


def test_replacing_a_service_it_does_not_use_is_an_error() -> None:
    _, _, frontend = event_services([])

    @tiffin.service
    class Other:
        pass

    with pytest.raises(BentoMLConfigException, match="replaces 'Other', which it does not"):
        frontend.to_asgi(dependencies={Other: object()})


def test_outside_a_server_the_dependency_is_a_plain_instance() -> None:
    events: list[str] = []
    _, model, _ = event_services(events)
    instance = model()  # as BentoML: Storage() without its lifecycle hooks
    assert events == ["Storage.__init__", "Model.__init__ sees stored:w"]
    assert instance.predict("x") == "X"


def test_cloud_only_and_wrong_arguments_are_clear_errors() -> None:
    with pytest.raises(BentoMLConfigException, match="BentoCloud"):
        tiffin.depends(deployment="ci-iris")
    with pytest.raises(BentoMLConfigException, match=r"decorated with @tiffin.service"):
        tiffin.depends(object)  # type: ignore[arg-type]
    with pytest.raises(BentoMLConfigException, match=r"http:// or https:// URL"):
        tiffin.depends(url="localhost:3000")
    with pytest.raises(BentoMLConfigException, match=r"depends\(\) needs"):
        tiffin.depends()


# --- depends(url=...) ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def remote_url() -> Iterator[str]:
    with served("tests/services/remote_model.py:RemoteModel") as url:
        yield url


def test_a_remote_service_is_called_over_http(
    remote_url: str, request: pytest.FixtureRequest
) -> None:
    from tests.services.remote_model import RemoteModel

    proxy = tiffin.depends(RemoteModel, url=remote_url)

    @tiffin.service
    class Caller:
        model = proxy
        anonymous = tiffin.depends(url=remote_url)

    caller = Caller()
    request.addfinalizer(caller.model.close)
    request.addfinalizer(caller.anonymous.close)
    assert caller.model.shout("hi") == "HI"  # sync API: a plain call
    assert caller.model.to_sync.echo({"a": 1}) == {"a": 1}
    assert list(caller.model.to_sync.count(n=3)) == ["0", "1", "2"]
    assert caller.anonymous.to_sync.shout(text="x") == "X"
    with pytest.raises(BentoMLException, match=r"to_sync.shout"):
        caller.anonymous.shout("x")
    with pytest.raises(NotFound, match="no such thing"):
        caller.model.to_sync.missing()


async def test_a_remote_service_is_called_from_a_running_service(remote_url: str) -> None:
    from tests.services.remote_model import RemoteModel

    @tiffin.service
    class Caller:
        model = tiffin.depends(RemoteModel, url=remote_url)

        @tiffin.api
        async def relay(self, text: str) -> str:
            return await self.model.to_async.shout(text=text) + await self.model.ashout(text)

        @tiffin.api
        async def stream(self) -> list[str]:
            return [chunk async for chunk in self.model.to_async.count(n=2)]

    async with running_client(Caller) as client:
        assert (await client.post("/relay", json={"text": "a"})).text == "AA"
        assert (await client.post("/stream")).json() == ["0", "1"]


def test_the_standalone_proxy_is_shared_and_thread_safe(remote_url: str) -> None:
    @tiffin.service
    class Caller:
        anonymous = tiffin.depends(url=remote_url)

    seen: list[Any] = []
    threads = [threading.Thread(target=lambda: seen.append(Caller().anonymous)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(proxy) for proxy in seen}) == 1
    assert seen[0].to_sync.shout(text="q") == "Q"
    seen[0].close()


# --- the harness ------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["inprocess", "live"])
async def test_the_harness_starts_the_whole_graph(transport: str) -> None:
    from tiffin.testing import ServiceClient

    events: list[str] = []
    _, _, frontend = event_services(events)
    async with ServiceClient(frontend, transport=transport) as client:
        assert (await client.post("/sync_call", json={"text": "ab"})).text == "AB"
        assert events[0] == "Storage.__init__"
    assert events[-1] == "Storage.on_shutdown"


async def test_a_harness_attribute_override_replaces_a_dependency_unstarted() -> None:
    from tiffin.testing import ServiceClient

    events: list[str] = []
    _, _, frontend = event_services(events)

    class Stub:
        def predict(self, text: str) -> str:
            return "stub"

    async with ServiceClient(frontend, model=Stub()) as client:
        assert (await client.post("/sync_call", json={"text": "ab"})).text == "stub"
    assert not any(event.startswith("Model") for event in events)  # never started


def test_url_without_httpx_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from tiffin.exceptions import MissingDependencyException

    monkeypatch.delitem(sys.modules, "tiffin.remote_proxy", raising=False)
    monkeypatch.setitem(sys.modules, "httpx", None)  # `import httpx` fails, as without the extra

    @tiffin.service
    class Caller:
        remote = tiffin.depends(url="http://127.0.0.1:1")

    with pytest.raises(MissingDependencyException, match=r"tiffin\[test\]"):
        Caller().remote  # noqa: B018
