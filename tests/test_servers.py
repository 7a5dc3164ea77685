"""uvicorn, Hypercorn and Granian side by side: the live server and `tiffin serve --server`."""

from __future__ import annotations

import importlib.util
import signal
import subprocess

import httpx
import pytest

import tiffin
from tests.serving import REPO, serving, tiffin_command
from tiffin.exceptions import StartupError
from tiffin.servers import SERVERS, make_server, unavailable
from tiffin.testing import LiveServer

OTHERS = ("hypercorn", "granian")
EVENTS: list[str] = []


def lifespan_app() -> tiffin.Service:
    async def bare(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"]
                EVENTS.append(kind)
                await send({"type": f"{kind}.complete"})
                if kind == "lifespan.shutdown":
                    return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["root_path"].encode()})

    @tiffin.asgi_app(bare, path="/v1")
    @tiffin.service
    class Served:
        @tiffin.api
        async def hello(self) -> str:
            return "hello"

    return Served


def needs(server: str) -> None:
    if importlib.util.find_spec(server) is None:  # tiffin[test] installs both
        pytest.fail(f"{server} is not installed: pip install -e '.[test]'")


@pytest.mark.parametrize("server", SERVERS)
def test_the_live_server_runs_the_lifespan_and_serves_on_each_server(server: str) -> None:
    needs(server)
    EVENTS.clear()
    with LiveServer(lifespan_app().to_asgi(), server=server) as url:
        assert httpx.post(f"{url}/hello", json={}).text == "hello"
        assert httpx.get(f"{url}/v1/x").text == "/v1"  # the mount's root_path
        assert EVENTS == ["lifespan.startup"]
    assert EVENTS == ["lifespan.startup", "lifespan.shutdown"]


@pytest.mark.parametrize("server", OTHERS)
def test_a_failed_startup_is_reported_with_its_cause(server: str) -> None:
    needs(server)

    async def failing(scope, receive, send):  # type: ignore[no-untyped-def]
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no model on purpose"})

    with pytest.raises(StartupError, match="failed to start: no model on purpose"):
        LiveServer(failing, server=server).start()


def test_an_unknown_server_is_named() -> None:
    with pytest.raises(ValueError, match="unknown ASGI server 'daphne': expected one of uvicorn"):
        make_server("daphne", lifespan_app().to_asgi())
    assert unavailable("daphne") is not None


@pytest.mark.parametrize("server", OTHERS)
def test_tiffin_serve_with_another_server_serves_and_drains(server: str) -> None:
    needs(server)
    with serving("tests.services.slow:Slow", "--server", server) as running:
        answer = httpx.post(f"{running.url}/wait", json={"seconds": 0})
        assert answer.text == "done"
        running.process.send_signal(signal.SIGTERM)
        assert running.wait_for_exit(timeout=20) == 0


def test_another_server_serves_one_worker() -> None:
    result = subprocess.run(
        tiffin_command("serve", "tests.services.slow:Slow", "--server", "hypercorn",
                       "--workers", "2"),
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--server hypercorn serves with one worker and no --reload" in result.stderr
