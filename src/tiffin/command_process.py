"""A running ``__command__``: its process, its readiness, and the proxy to it.

What BentoML does and where tiffin differs is told in ``tiffin.command``; this
module is loaded by the lifespan when a service with a command starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from tiffin import command
from tiffin.exceptions import BentoMLConfigException

if TYPE_CHECKING:
    import httpx

    from tiffin.config import ServiceConfig

logger = logging.getLogger("tiffin")

POLL_SECONDS = 0.2
UNAVAILABLE = "Upstream service unavailable."
# Connection-level headers belong to one hop, never forwarded (RFC 9110 7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGTERM when this process dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


class CommandProcess:
    """One running ``__command__``: the process, its readiness, the proxy to it."""

    def __init__(
        self, argv: list[str], config: ServiceConfig, states: list[dict[str, Any]]
    ) -> None:
        self.argv = argv
        http = getattr(config, "http", None)
        endpoints = getattr(config, "endpoints", None)
        self.port: int = getattr(http, "proxy_port", None) or command.DEFAULT_PROXY_PORT
        self.health_path: str = getattr(endpoints, "livez", None) or command.DEFAULT_HEALTH_PATH
        self.url = f"http://localhost:{self.port}"
        self.replicate = bool(getattr(config, "replicate_process", None))
        self.states = states  # Service.context.state, and ctx.state of this app's APIs
        self.process: asyncio.subprocess.Process | None = None
        self.client: httpx.AsyncClient | None = None
        self._lock: int | None = None  # the lock file's descriptor while this one runs it

    async def start(self) -> None:
        """Start the process, then wait until its health endpoint answers.

        One process per port, as BentoML starts it in worker 1 only: the worker (or
        composed app) holding the port's lock file starts it, the others wait for it
        to be healthy and proxy to it; if its holder goes, the next one starts it.
        ``replicate_process=True`` gives every worker its own (BentoML's option).
        """
        try:
            import httpx
        except ModuleNotFoundError as exc:  # tiffin serves without its test extra
            from tiffin.exceptions import MissingDependencyException
            from tiffin.extras import missing_test_extra

            raise MissingDependencyException(
                missing_test_extra("proxying to __command__", exc)
            ) from None

        self.client = httpx.AsyncClient(base_url=self.url, timeout=None)
        while not self.replicate:
            self._lock = _try_lock(self.port)
            if self._lock is not None:
                break
            if await self._healthy():
                self._share({"proc": None, "client": self.client})
                return  # another worker's command serves this port
            await asyncio.sleep(POLL_SECONDS)
        logger.info("starting the service's command: %s", " ".join(self.argv))
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, start_new_session=True, preexec_fn=_die_with_parent()
        )
        while self.process.returncode is None:
            if await self._healthy():
                break
            await asyncio.sleep(POLL_SECONDS)
        else:
            raise RuntimeError(
                f"the command exited with code {self.process.returncode} before "
                f"{self.url}{self.health_path} answered; see its output above"
            )
        self._share({"proc": self.process, "client": self.client})

    def _share(self, values: dict[str, Any]) -> None:
        for state in self.states:
            state.update(values)

    async def _healthy(self) -> bool:
        import httpx

        assert self.client is not None
        try:
            response = await self.client.get(self.health_path, timeout=5.0)
        except httpx.HTTPError:
            return False
        if response.status_code == 404:
            raise BentoMLConfigException(
                f"the command's health endpoint {self.url}{self.health_path} answered 404: "
                "set endpoints={'livez': '/its/health/path'} on the service (and "
                "http={'proxy_port': N} if it does not listen on port 8000)"
            )
        return response.is_success

    async def stop(self) -> None:
        """SIGTERM to its process group, SIGKILL after the grace period; close the client."""
        process, self.process = self.process, None
        try:
            if process is not None and process.returncode is None:
                _signal_group(process.pid, signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), command.STOP_GRACE_SECONDS)
                except TimeoutError:
                    logger.warning("the command did not stop on SIGTERM; killing it")
                    _signal_group(process.pid, signal.SIGKILL)
                    await process.wait()
        finally:
            if self._lock is not None:
                os.close(self._lock)  # releases the port for a worker still running
                self._lock = None
            for state in self.states:
                for key in ("proc", "client"):
                    state.pop(key, None)
            client, self.client = self.client, None
            if client is not None:
                await client.aclose()

    async def proxy(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward one request (or websocket) to the command; ``path`` is below the prefix."""
        if scope["type"] == "websocket":
            from tiffin.command_websocket import proxy_websocket

            await proxy_websocket(self.url, path, scope, receive, send)
            return
        response = await self._forward(path, scope, receive)
        await response(scope, receive, send)

    async def _forward(self, path: str, scope: Scope, receive: Receive) -> Response:
        import httpx

        assert self.client is not None
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope["headers"]
            if name.lower() != b"host" and name.decode("latin-1").lower() not in HOP_BY_HOP
        ]
        request = self.client.build_request(
            scope["method"],
            # An empty query would still add "?" to the path the command sees.
            httpx.URL(path=path, query=scope.get("query_string") or None),
            headers=headers,
            content=_body(receive),
        )
        try:
            upstream = await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            logger.error("the command did not answer a proxied request: %s", exc)
            return PlainTextResponse(UNAVAILABLE, status_code=503)
        # The bytes go on as they came (aiter_raw: still encoded), so every header holds.
        response = StreamingResponse(_relay(upstream), status_code=upstream.status_code)
        response.raw_headers = [
            (name, value)
            for name, value in upstream.headers.raw
            if name.decode("latin-1").lower() not in HOP_BY_HOP
        ]
        return response


async def _relay(upstream: httpx.Response) -> Any:
    """The upstream body as it arrives; the upstream response is closed however it ends."""
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    finally:
        await upstream.aclose()


async def _body(receive: Receive) -> Any:
    """The request body as it arrives, chunk by chunk."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def _try_lock(port: int) -> int | None:
    """An exclusive lock on this port's lock file (its descriptor), or None if held."""
    import fcntl
    import tempfile

    path = os.path.join(tempfile.gettempdir(), f"tiffin-command-{port}.lock")
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        return None
    return descriptor


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
