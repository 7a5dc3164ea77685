"""DEP, MTH, CMD: the service SDK real services are made of: depends(), __metrics__, __command__.

These checks define small services of their own with the implementation's module
(``tiffin`` or ``bentoml``), as a user would, and serve them in process: the rules
are about the service SDK, not the transport.
"""

# The services here are written with `impl` (tiffin or bentoml, chosen at run time), whose
# decorators mypy cannot type.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tiffin.conformance import expect
from tiffin.conformance.registry import check
from tiffin.conformance.targets import CheckContext

# How long a stopped command may take to go: BentoML waits for it after SIGTERM.
STOP_SECONDS = 10.0


@asynccontextmanager
async def serving(ctx: CheckContext, service: Any) -> AsyncIterator[httpx.AsyncClient]:
    implementation = getattr(ctx, "implementation")  # noqa: B009 - the reference run's
    transport = getattr(ctx, "transport", "inprocess")
    async with implementation.serve_service(service, transport) as client:
        yield client


def helper_and_dependent(impl: Any, events: list[str]) -> Any:
    @impl.service(name="Helper")
    class Helper:
        @impl.on_startup
        def opened(self) -> None:
            events.append("Helper on_startup")

        @impl.on_shutdown
        def closed(self) -> None:
            events.append("Helper on_shutdown")

        @impl.api
        def shout(self, text: str = "") -> str:
            return text.upper()

        @impl.api
        async def whisper(self, text: str = "") -> str:
            return text.lower()

    @impl.service(name="Dependent")
    class Dependent:
        helper = impl.depends(Helper)

        def __init__(self) -> None:
            events.append("Dependent __init__")

        @impl.on_shutdown
        def closed(self) -> None:
            events.append("Dependent on_shutdown")

        @impl.api
        async def relay(self, text: str = "") -> str:
            direct = self.helper.shout(text)
            awaited = await self.helper.whisper(text)
            through = await self.helper.to_async.shout(text=text)
            return f"{direct}/{awaited}/{through}"

    return Dependent


@check(
    "DEP-001",
    "A depends() attribute offers the dependency's APIs as methods: sync, async, and to_async.",
    needs={"reference", "service_objects"},
)
async def dependency_apis(ctx: CheckContext) -> None:
    dependent = helper_and_dependent(ctx.api_module(), [])
    async with serving(ctx, dependent) as client:
        response = await client.post("/relay", json={"text": "Ab"})
    expect.status(response, 200)
    expect.equal(response.text, "AB/ab/AB", "what the dependency's APIs answered")


@check(
    "DEP-002",
    "A dependency has started (its on_startup hooks ran) before the dependent's __init__, "
    "and stops after the dependent's on_shutdown hooks.",
    needs={"reference", "service_objects"},
)
async def dependency_lifecycle(ctx: CheckContext) -> None:
    events: list[str] = []
    dependent = helper_and_dependent(ctx.api_module(), events)
    async with serving(ctx, dependent) as client:
        expect.status(await client.get("/readyz"), 200)
    expect.equal(
        events,
        ["Helper on_startup", "Dependent __init__", "Dependent on_shutdown", "Helper on_shutdown"],
        "the lifecycle events",
    )


@check(
    "MTH-001",
    "__metrics__ gets the /metrics text the server made, and what it returns is served.",
    needs={"reference", "service_objects"},
)
async def metrics_hook(ctx: CheckContext) -> None:
    impl = ctx.api_module()

    @impl.service(name="Measured")
    class Measured:
        @impl.api
        def hello(self) -> str:
            return "hello"

        def __metrics__(self, content: str) -> str:
            seen = int("# TYPE" in content)
            return (
                f"{content}\n# TYPE measured_hook_saw_text gauge\nmeasured_hook_saw_text {seen}\n"
            )

    async with serving(ctx, Measured) as client:
        await client.post("/hello")
        response = await client.get("/metrics")
    expect.status(response, 200)
    expect.that(
        "measured_hook_saw_text 1" in response.text,
        f"/metrics lacks what __metrics__ returned (or it got no text):\n{response.text[-800:]}",
    )


def command_service(impl: Any, port: int) -> Any:
    @impl.service(name="Commanded", http={"proxy_port": port})
    class Commanded:
        def __command__(self) -> list[str]:
            return [sys.executable, "-m", "tiffin.conformance.command_upstream", str(port)]

        @impl.api
        def own(self) -> str:
            return "served by the service"

    return Commanded


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@check(
    "CMD-001",
    "__command__ is started with the service; a path the service does not serve is "
    "proxied to it (method, path, query), its own APIs stay its own.",
    needs={"reference", "service_objects"},
)
async def command_proxied(ctx: CheckContext) -> None:
    service = command_service(ctx.api_module(), free_port())
    async with serving(ctx, service) as client:
        proxied = await client.get("/v1/models?limit=2")
        own = await client.post("/own")
    expect.status(proxied, 200)
    answer = expect.json_body(proxied)
    expect.equal(
        (answer.get("method"), answer.get("path"), answer.get("query")),
        ("GET", "/v1/models", "limit=2"),
        "what the command was sent",
    )
    expect.text_equal(own, 200, "served by the service")


@check(
    "CMD-002",
    "The __command__ process is stopped when the service shuts down.",
    needs={"reference", "service_objects"},
)
async def command_stopped(ctx: CheckContext) -> None:
    service = command_service(ctx.api_module(), free_port())
    async with serving(ctx, service) as client:
        pid = expect.json_body(await client.get("/pid"))["pid"]
    deadline = time.monotonic() + STOP_SECONDS
    while _alive(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    expect.that(not _alive(pid), f"the command (pid {pid}) still runs after shutdown")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A child that exited but was not reaped yet is a zombie: it no longer runs.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
