"""__command__: the process starts with the service, takes every other path, stops with it."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.types import Message

import tiffin
from tests.asgi import call_http
from tests.conftest import running_client
from tests.serving import free_port, serving
from tiffin import command
from tiffin.exceptions import BentoMLConfigException, StartupError

COMMANDS = Path(__file__).parent / "commands"


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> int:
    """A free port for the command; the proxy's default port (8000) moved to it."""
    chosen = free_port()
    monkeypatch.setattr(command, "DEFAULT_PROXY_PORT", chosen)
    return chosen


def upstream_service(port: int, script: str = "upstream.py", **options: Any) -> Any:
    @tiffin.service(**options)
    class WithCommand:
        def __command__(self) -> list[str]:
            return [sys.executable, str(COMMANDS / script), str(port)]

        @tiffin.api
        def own(self) -> str:
            return "tiffin's own API"

        @tiffin.api
        async def via_ctx(self, ctx: tiffin.Context) -> str:
            return (await ctx.state["client"].get("/health")).text

    return WithCommand


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_every_other_path_is_proxied_to_the_command(port: int) -> None:
    async with running_client(upstream_service(port)) as client:
        response = await client.post(
            "/some/path?x=1&y=2", content=b"payload", headers={"x-custom": "kept"}
        )
        assert response.status_code == 201
        assert response.headers["x-upstream"] == "yes"
        seen = response.json()
        assert (seen["method"], seen["path"], seen["query"]) == ("POST", "/some/path", "x=1&y=2")
        assert seen["body"] == "payload"
        assert seen["headers"]["x-custom"] == "kept"
        assert (await client.get("/")).json()["path"] == "/"  # the index is the command's
        assert (await client.get("/docs.json")).json()["path"] == "/docs.json"
        assert (await client.get("/own")).json()["method"] == "GET"  # a 405 goes on too
        # What the service serves itself stays its own.
        assert (await client.post("/own")).text == "tiffin's own API"
        assert (await client.post("/via_ctx")).text == "ok"  # ctx.state["client"]
        assert (await client.get("/readyz")).status_code == 200
        assert "bentoml_service_request_total" in (await client.get("/metrics")).text


async def test_streaming_passes_through_as_it_comes(port: int) -> None:
    app = upstream_service(port).to_asgi()
    async with app.running():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

            async def on_send(message: Message) -> None:
                # The command sends its second chunk only after /release: the first chunk
                # must reach the client before that, or this waits forever.
                if message.get("body") == b"first;":
                    assert (await client.post("/release")).text == "released"

            sent = await call_http(app, "GET", "/stream", on_send=on_send)
    bodies = [m["body"] for m in sent if m["type"] == "http.response.body" and m.get("body")]
    assert bodies == [b"first;", b"second"]


async def test_websockets_pass_through(port: int) -> None:
    app = upstream_service(port).to_asgi()
    async with app.running():
        transport = ASGIWebSocketTransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            async with aconnect_ws("http://t/ws", client) as ws:
                await ws.send_text("hi")
                assert await ws.receive_text() == "echo:hi"
        await transport.aclose()


async def test_the_process_starts_with_the_service_and_stops_with_it(port: int) -> None:
    service = upstream_service(port)
    app = service.to_asgi()
    async with app.running():
        proc = service.context.state["proc"]
        client = service.context.state["client"]
        assert isinstance(client, httpx.AsyncClient)
        assert (await client.get("/health")).text == "ok"
        pid = proc.pid
        assert alive(pid)
    assert proc.returncode is not None
    assert not alive(pid)
    assert "proc" not in service.context.state


async def test_a_command_ignoring_sigterm_is_killed_after_the_grace(
    port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(command, "STOP_GRACE_SECONDS", 0.5)
    service = upstream_service(port, "stubborn.py")
    app = service.to_asgi()
    async with app.running():
        proc = service.context.state["proc"]
    assert proc.returncode == -9


async def test_a_command_that_exits_first_fails_the_startup(port: int) -> None:
    @tiffin.service
    class Exits:
        def __command__(self) -> list[str]:
            return [sys.executable, "-c", "raise SystemExit(3)"]

    with pytest.raises(StartupError, match=r"__command__ .* exited with code 3"):
        await Exits.to_asgi().startup()


async def test_a_missing_health_endpoint_is_a_clear_error(
    port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTH_STATUS", "404")
    with pytest.raises(StartupError, match=r"answered 404: set endpoints=\{'livez'"):
        await upstream_service(port).to_asgi().startup()


def test_a_command_that_is_not_a_method_fails_the_definition() -> None:
    class NotCallable:
        __command__ = ("echo",)

    with pytest.raises(BentoMLConfigException, match="'NotCallable': __command__ must be a method"):
        tiffin.service(NotCallable)


async def test_a_command_returning_no_argv_fails_the_startup() -> None:
    @tiffin.service
    class NoArgv:
        def __command__(self) -> str:
            return "vllm serve"

    with pytest.raises(StartupError, match="__command__ must return a non-empty list"):
        await NoArgv.to_asgi().startup()


async def test_an_unreachable_command_answers_503(port: int) -> None:
    service = upstream_service(port)
    async with running_client(service) as client:
        service.context.state["proc"].kill()
        await service.context.state["proc"].wait()
        response = await client.get("/anything")
    assert (response.status_code, response.text) == (503, "Upstream service unavailable.")


async def test_metrics_hook_appends_the_commands_metrics(port: int) -> None:
    # BentoVLLM's __metrics__: tiffin's text plus what the command's /metrics says.
    @tiffin.service
    class LLM:
        def __command__(self) -> list[str]:
            return [sys.executable, str(COMMANDS / "upstream.py"), str(port)]

        async def __metrics__(self, content: str) -> str:
            client = LLM.context.state["client"]
            return content + "\n" + (await client.get("/metrics")).text

    async with running_client(LLM) as client:
        text = (await client.get("/metrics")).text
    assert "upstream_up 1" in text
    assert "bentoml_service_request_total" in text or "# TYPE bentoml_service" in text


def test_served_over_a_socket_the_command_is_proxied_and_stopped(tmp_path: Path) -> None:
    target = tmp_path / "svc.py"
    port = free_port()
    target.write_text(
        "import sys\nimport tiffin\nfrom tiffin import command\n"
        f"command.DEFAULT_PROXY_PORT = {port}\n"
        "@tiffin.service\nclass Svc:\n"
        "    def __command__(self):\n"
        f"        return [sys.executable, {str(COMMANDS / 'upstream.py')!r}, '{port}']\n"
    )
    with serving(f"{target}:Svc", cwd=tmp_path) as server:
        answer = httpx.post(f"{server.url}/v1/chat?stream=0", content=b"{}")
        assert answer.json()["path"] == "/v1/chat"
        pid = answer.json()["pid"]
    assert not alive(pid)


async def test_cmd_in_the_service_options_is_the_command(port: int) -> None:
    # BentoML's `cmd=[...]` (a service without __command__); needs the `cmd` config key.
    @tiffin.service(cmd=[sys.executable, str(COMMANDS / "upstream.py"), str(port)])
    class WithCmd:
        pass

    async with running_client(WithCmd) as client:
        assert (await client.get("/from/cmd")).json()["path"] == "/from/cmd"


def upstream_processes(port: int) -> list[int]:
    """Pids of the upstream test servers listening on ``port`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if any(a.endswith(b"upstream.py") for a in argv) and str(port).encode() in argv:
                    found.append(int(entry.name))
    return found


async def test_two_apps_on_one_port_share_one_process(port: int) -> None:
    first, second = upstream_service(port).to_asgi(), upstream_service(port).to_asgi()
    async with first.running(), second.running():
        assert len(upstream_processes(port)) == 1  # the second waited for the first's
        assert second.service.context.state["proc"] is None
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/via/second")).json()["path"] == "/via/second"


def test_several_workers_run_one_command(tmp_path: Path) -> None:
    target = tmp_path / "svc.py"
    port = free_port()
    target.write_text(
        "import sys\nimport tiffin\n"
        f"@tiffin.service(http={{'proxy_port': {port}}})\nclass Svc:\n"
        "    def __command__(self):\n"
        f"        return [sys.executable, {str(COMMANDS / 'upstream.py')!r}, '{port}']\n"
    )
    with serving(f"{target}:Svc", "--workers", "2", cwd=tmp_path, ready_within=40) as server:
        pids = {httpx.get(f"{server.url}/x", timeout=5).json()["pid"] for _ in range(6)}
        assert len(pids) == 1
        assert len(upstream_processes(port)) == 1
    assert upstream_processes(port) == []
