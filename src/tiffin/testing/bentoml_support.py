"""BentoML services in tiffin's harness: a BentoML user tests a real service with tiffin's fixtures.

``ServiceClient(svc)`` (and so ``tiffin_client_factory(svc)``, ``tiffin_client``,
``tiffin_live_server``) accepts a ``@bentoml.service`` as it accepts a tiffin one.
It composes the app with BentoML's own ``Svc.to_asgi()``, runs its lifespan
(``on_deployment`` hooks, the instance, ``on_startup`` hooks, the lifespans BentoML
gives mounted apps) through the ASGI lifespan protocol under the harness's
deadlines, and hands the test the same ``httpx.AsyncClient``, in-process or over
uvicorn in a thread. What is served is BentoML's app, with BentoML's behaviour:
tiffin's contract does not apply to it.

BentoML 1.4 keeps per-process state that an in-process run has to provide:

- ``/metrics`` reads prometheus_client's multiprocess directory, even with one
  process. While a BentoML app runs, a temporary directory is made and
  ``PROMETHEUS_MULTIPROC_DIR`` points at it (the old value is restored and the
  directory removed afterwards). prometheus_client chooses how it stores values
  when it is first imported, usually long before (tiffin imports it), so the
  multiprocess value class is installed for the same window and put back after.
- Its metrics are registered in prometheus_client's global registry, so a second
  app in one process would fail with ``Duplicated timeseries``: the collectors an
  app registered are unregistered when it stops.
- ``bentoml.get_current_service()`` is one process global: one BentoML service
  runs in-process at a time, and a second one is refused with a clear error.
- BentoML's worker fills ``server_context`` (service name, routes, worker index: the
  ``service_name`` label of its metrics) before composing the app: the same is done
  for the window, and the old values put back.

``BentoMLServer`` (fixture ``tiffin_bentoml_serve``) runs the real thing, ``bentoml
serve module:Svc`` in a subprocess on a free loopback port, for the same tests over
BentoML's own server.

Nothing here imports bentoml unless a BentoML service is handed to it: a BentoML
service object exists only once ``_bentoml_sdk`` is imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx

from tiffin.exceptions import StartupError
from tiffin.testing.calls import TiffinAsyncClient
from tiffin.testing.factory import ServiceClient
from tiffin.testing.loops import DeadlineExceeded, _is_plumbing, deadline
from tiffin.testing.overrides import ServiceOverrides

_logger = logging.getLogger("tiffin.testing.bentoml")
PROMETHEUS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_SERVICE_MODULE = "_bentoml_sdk.service.factory"
# The traffic keys BentoML 1.4 applies to the app it composes (others are accepted and ignored).
SUPPORTED_TRAFFIC = ("timeout", "max_concurrency")
# The deprecation warnings bentoml 1.4.40 emits itself, as pytest ``filterwarnings`` lines:
# for test suites that turn warnings into errors and run BentoML services.
BENTOML_WARNINGS = (
    # `import bentoml` builds pathspec "gitwildmatch" patterns, which pathspec deprecates.
    r"ignore:GitWildMatchPattern \('gitwildmatch'\) is deprecated:DeprecationWarning",
    # @bentoml.api builds its input model through a method pydantic 2.11 deprecates.
    "ignore:The `__get_pydantic_core_schema__` method of the `BaseModel` class is deprecated"
    ":pydantic.warnings.PydanticDeprecatedSince211",
    # Every @bentoml.api request reads `model_fields` on an instance (pydantic 2.11).
    "ignore:Accessing the 'model_fields' attribute on the instance is deprecated"
    ":pydantic.warnings.PydanticDeprecatedSince211",
)
_BENTOML_DIRS = tuple(
    f"{os.sep}{name}{os.sep}" for name in ("bentoml", "_bentoml_sdk", "_bentoml_impl")
)


def _bentoml(module: str) -> Any:
    """A module of BentoML's (imported by name: tiffin is type-checked without bentoml)."""
    return importlib.import_module(module)


def is_bentoml_service(obj: Any) -> bool:
    """Whether ``obj`` is a ``@bentoml.service`` (never imports bentoml)."""
    module = sys.modules.get(_SERVICE_MODULE)
    return module is not None and isinstance(obj, module.Service)


def _where(exc: BaseException) -> str:
    """`` in warm_up() at service.py:12``: the innermost frame of user code in a traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if not _is_plumbing(frame.filename) and not any(d in frame.filename for d in _BENTOML_DIRS):
            return f" in {frame.name}() at {frame.filename}:{frame.lineno}"
    return ""


# --- the process-wide state BentoML needs ----------------------------------------------


class BentoMLProcessState:
    """While a BentoML app runs in this process: a prometheus directory, and no other app.

    ``with BentoMLProcessState(Svc):`` is what ``BentoMLServiceClient`` wraps around
    an app's whole life; usable on its own around ``Svc.to_asgi()`` in a test of yours.
    """

    _lock = threading.Lock()
    _holder: str | None = None

    def __init__(self, service: Any) -> None:
        self.service = service
        self.service_name: str = service.name
        self.directory: str | None = None
        self._old_context: dict[str, Any] | None = None
        self._held = False
        self._old_env: str | None = None
        self._old_value_class: Any = None
        self._value_class: Any = None
        self._collectors: set[Any] = set()

    def __enter__(self) -> BentoMLProcessState:
        with self._lock:
            holder = BentoMLProcessState._holder
            if holder is not None:
                raise RuntimeError(
                    f"tiffin: BentoML service {self.service_name!r} cannot start while BentoML "
                    f"service {holder!r} runs in this process: BentoML 1.4 keeps the running "
                    "service (bentoml.get_current_service()) and its metrics in process-wide "
                    "globals, so the two would see each other's. Stop the first one (leave its "
                    "`async with` block or fixture) before starting the next, or run one of "
                    "them with `bentoml serve` (tiffin_bentoml_serve)."
                )
            BentoMLProcessState._holder = self.service_name
            self._held = True
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _setup(self) -> None:
        from prometheus_client import REGISTRY, values

        self.directory = tempfile.mkdtemp(prefix="tiffin-bentoml-prometheus-")
        self._old_env = os.environ.get(PROMETHEUS_ENV)
        os.environ[PROMETHEUS_ENV] = self.directory
        # Values made from here on are written to the directory, where BentoML's /metrics
        # reads them (a fresh value class: its files belong to this directory).
        self._old_value_class = values.ValueClass
        self._value_class = values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        self._collectors = set(_registered(REGISTRY))
        self._set_server_context()

    def _set_server_context(self) -> None:
        """What ``_bentoml_impl.worker.service`` sets before ``to_asgi()``, for worker 1."""
        server_context = _bentoml("bentoml._internal.context").server_context
        join_paths = _bentoml("bentoml._internal.utils.uri").join_paths
        service = self.service
        bento = service.bento
        values = {
            "worker_index": 1,
            "service_type": "entry_service",
            "service_name": service.name,
            "service_routes": [
                join_paths(service.path_prefix, api.route) for api in service.apis.values()
            ],
            "bento_name": service.name if bento is None else bento.tag.name,
            "bento_version": "not available"
            if bento is None
            else (bento.tag.version or "not available"),
        }
        self._old_context = {name: getattr(server_context, name) for name in values}
        for name, value in values.items():
            setattr(server_context, name, value)

    def close(self) -> None:
        """Undo everything ``__enter__`` did (idempotent)."""
        if self._old_context is not None:
            server_context = _bentoml("bentoml._internal.context").server_context
            for name, value in self._old_context.items():
                setattr(server_context, name, value)
            self._old_context = None
        if self.directory is not None:
            from prometheus_client import REGISTRY, values

            for collector in set(_registered(REGISTRY)) - self._collectors:
                with contextlib.suppress(KeyError):
                    REGISTRY.unregister(collector)
            close_files = getattr(self._value_class, "close_all_files", None)
            if close_files is not None:
                close_files()
            if values.ValueClass is self._value_class:
                values.ValueClass = self._old_value_class
            if os.environ.get(PROMETHEUS_ENV) == self.directory:
                if self._old_env is None:
                    del os.environ[PROMETHEUS_ENV]
                else:
                    os.environ[PROMETHEUS_ENV] = self._old_env
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
        if self._held:
            with self._lock:
                BentoMLProcessState._holder = None
            self._held = False


def _registered(registry: Any) -> list[Any]:
    return list(getattr(registry, "_collector_to_names", {}))


# --- composing the app ---------------------------------------------------------------


@dataclass
class _MountView:
    app: Any


@dataclass
class _ServiceView:
    """What ``ServiceOverrides`` reads of a service, for a BentoML one."""

    inner: type[Any]
    name: str
    mounts: list[_MountView] = field(default_factory=list)


def compose(service: Any, traffic: Mapping[str, Any] | None = None) -> Any:
    """``service.to_asgi()`` with ``traffic`` overriding the decorator's values, after the
    ``on_deployment`` hooks (as ``bentoml serve`` runs them once before its workers start)."""
    run_deployment_hooks(service)
    if not traffic:
        return service.to_asgi(is_main=True)
    config = service.config
    had_traffic = "traffic" in config
    old_traffic = config.get("traffic")
    config["traffic"] = {**(old_traffic or {}), **traffic}
    try:
        return service.to_asgi(is_main=True)  # reads the config once, here
    finally:
        if had_traffic:
            config["traffic"] = old_traffic
        else:
            del config["traffic"]


class AsServed:
    """In-process, answer as ``bentoml serve`` (uvicorn) answers an app that fails.

    An exception escaping BentoML's app (a mounted app's error middleware re-raises
    after its 500) is logged, as uvicorn logs it, and does not reach the test; an app
    that raises or returns before it responds gets uvicorn's ``500 Internal Server
    Error``. So a test sees the same response in-process and over ``bentoml serve``.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception:
            _logger.exception("Exception in ASGI application")
        else:
            if started:
                return
            _logger.error("ASGI callable returned without starting response.")
        if not started:
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": b"Internal Server Error"})


def run_deployment_hooks(service: Any) -> None:
    try:
        serving = _bentoml("_bentoml_impl.server.serving")
        on_deployment: Callable[[Any], None] = serving.server_on_deployment
    except (ImportError, AttributeError):  # another 1.4.x layout: the hooks alone
        for name in dir(service.inner):
            member = getattr(service.inner, name)
            if callable(member) and getattr(member, "__bentoml_deployment_hook__", False):
                member()
        return
    on_deployment(service)


# --- the lifespan ----------------------------------------------------------------------


class AsgiLifespan:
    """Drives an ASGI app's lifespan (startup, shutdown) from a task of its own."""

    def __init__(self, app: Any, what: str) -> None:
        self.app = app
        self.what = what
        self.state: dict[str, Any] = {}
        self.task: asyncio.Task[None] | None = None
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        scope["state"] = self.state
        await self.app(scope, self._to_app.get, self._from_app.put)

    async def _answer(self) -> dict[str, Any] | None:
        """The app's next message, or None when the app returned (or raised) without one."""
        assert self.task is not None
        getter = asyncio.ensure_future(self._from_app.get())
        try:
            await asyncio.wait({getter, self.task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()
        return getter.result() if getter.done() and not getter.cancelled() else None

    async def _cause(self) -> BaseException | None:
        """The exception the app task ended with (it re-raises after ``*.failed``)."""
        assert self.task is not None
        await asyncio.wait({self.task}, timeout=1.0)
        if not self.task.done() or self.task.cancelled():
            return None
        return self.task.exception()

    async def startup(self, timeout: float, hint: str = "") -> None:
        self.task = asyncio.create_task(self._run(), name=f"tiffin lifespan of {self.what}")
        await self._to_app.put({"type": "lifespan.startup"})
        try:
            async with deadline(
                timeout, f"the startup of {self.what}", watched=self.task, hint=hint
            ):
                answer = await self._answer()
        except BaseException:
            await self.cancel()
            raise
        if answer is not None and answer["type"] == "lifespan.startup.complete":
            return
        cause = await self._cause()
        await self.cancel()
        if cause is not None:
            raise StartupError(
                f"{self.what} failed to start: {type(cause).__name__}: {cause}{_where(cause)}"
            ) from cause
        message = (answer or {}).get("message") or "the app returned during startup"
        raise StartupError(f"{self.what} failed to start: {message}")

    async def shutdown(self, timeout: float, hint: str = "") -> None:
        if self.task is None:
            return
        if self.task.done():  # the app stopped on its own (it does not speak lifespan)
            self.task = None
            return
        await self._to_app.put({"type": "lifespan.shutdown"})
        try:
            async with deadline(
                timeout, f"the shutdown of {self.what}", watched=self.task, hint=hint
            ):
                answer = await self._answer()
                if answer is not None and answer["type"] == "lifespan.shutdown.complete":
                    await self.task
                    self.task = None
                    return
        except BaseException:
            await self.cancel()
            raise
        cause = await self._cause()
        await self.cancel()
        detail = f"{type(cause).__name__}: {cause}{_where(cause)}" if cause else ""
        message = detail or (answer or {}).get("message") or "the app returned during shutdown"
        raise RuntimeError(f"tiffin: the shutdown of {self.what} failed: {message}") from cause

    async def cancel(self) -> None:
        task, self.task = self.task, None
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


# --- the harness -----------------------------------------------------------------------


class BentoMLServiceClient(ServiceClient):
    """``ServiceClient`` for a BentoML service; ``ServiceClient(bentoml_service)`` makes one.

    Overrides: class attributes (keyword arguments), ``dependency_overrides`` (every
    mounted FastAPI app) and ``traffic={"timeout": ..., "max_concurrency": ...}`` (the
    keys BentoML applies to the app it composes). Other traffic keys are refused.
    """

    service: Any

    def __init__(self, service: Any, **options: Any) -> None:
        traffic = options.get("traffic") or {}
        unsupported = sorted(set(traffic) - set(SUPPORTED_TRAFFIC))
        if unsupported:
            raise TypeError(
                f"tiffin: traffic override {', '.join(map(repr, unsupported))} is not supported "
                f"for BentoML service {service.name!r}: BentoML 1.4 applies only "
                f"{' and '.join(map(repr, SUPPORTED_TRAFFIC))} to the app it serves"
            )
        super().__init__(service, **options)
        self.what = f"BentoML service {service.name!r}"
        self._process: BentoMLProcessState | None = None
        self._lifespan: AsgiLifespan | None = None

    def _make_overrides(
        self,
        attributes: dict[str, Any],
        dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] | None,
    ) -> ServiceOverrides:
        view = _ServiceView(
            inner=self.service.inner,
            name=self.service.name,
            mounts=[_MountView(app) for app, _path, _name in self.service.mount_apps],
        )
        return ServiceOverrides(cast(Any, view), attributes, dependency_overrides)

    def _compose(self) -> Any:
        app = compose(self.service, self.traffic)
        return AsServed(app) if self.transport == "inprocess" else app  # live: uvicorn is

    async def _start(self) -> TiffinAsyncClient:
        self._process = BentoMLProcessState(self.service).__enter__()
        try:
            return await super()._start()
        except BaseException:
            self._release()
            raise

    async def _start_in_process(self) -> None:
        lifespan = AsgiLifespan(self.app, self.what)
        await lifespan.startup(
            self.settings.startup_timeout,
            hint="Raise the deadline with --tiffin-startup-timeout or the "
            "tiffin_startup_timeout ini key.",
        )
        self._lifespan = lifespan

    async def _stop_in_process(self) -> None:
        if self._lifespan is not None:
            lifespan, self._lifespan = self._lifespan, None
            await lifespan.shutdown(
                self.settings.shutdown_timeout,
                hint="Raise the deadline with --tiffin-shutdown-timeout.",
            )

    async def _stop(self) -> None:
        try:
            await super()._stop()
        finally:
            self._release()

    def _release(self) -> None:
        if self._process is not None:
            process, self._process = self._process, None
            process.close()

    @contextlib.contextmanager
    def live_server(self) -> Iterator[str]:
        with BentoMLProcessState(self.service), super().live_server() as url:
            yield url


# --- bentoml serve -------------------------------------------------------------------


def serve_target(service: Any) -> tuple[str, str]:
    """``("module:Name", directory)``: what ``bentoml serve`` imports, and from where."""
    target: str = service.import_string
    module_name = target.partition(":")[0]
    module = sys.modules.get(module_name)
    filename = getattr(module, "__file__", None)
    if not filename:
        return target, os.getcwd()
    path = Path(filename).resolve()
    depth = module_name.count(".") + (1 if path.name == "__init__.py" else 0)
    return target, str(path.parents[depth])


def resolve_target(target: Any, working_dir: str | os.PathLike[str] | None) -> tuple[str, str]:
    """A service or an import string -> ``("module:Name", working directory)``."""
    if not isinstance(target, str):
        if not is_bentoml_service(target):
            raise TypeError(
                "tiffin: `bentoml serve` serves a BentoML service (@bentoml.service) or an "
                f"import string like 'service:MyService', got {type(target).__name__} {target!r}"
            )
        target, found = serve_target(target)
        working_dir = working_dir or found
    return target, str(working_dir or os.getcwd())


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class BentoMLServer:
    """``with BentoMLServer(Svc) as url:`` runs ``bentoml serve`` on a free loopback port.

    ``target`` is a BentoML service (its module and directory are found) or an import
    string such as ``"service:Svc"`` (then give ``working_dir``). Ready when ``/readyz``
    answers 200; stopped with SIGTERM (BentoML's graceful shutdown, which runs the
    service's shutdown hooks), then SIGKILL after ``shutdown_timeout``. A server that
    exits or does not get ready is reported with the end of its output.
    """

    def __init__(
        self,
        target: Any,
        *,
        working_dir: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout: float = 60.0,
        shutdown_timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        ready_headers: Mapping[str, str] | None = None,
        ready_path: str = "/readyz",
    ) -> None:
        self.target, self.working_dir = resolve_target(target, working_dir)
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        inherited = {k: v for k, v in os.environ.items() if k != PROMETHEUS_ENV}  # its own
        self.env = {**inherited, "BENTOML_DO_NOT_TRACK": "True", **(env or {})}
        self.args = list(args)
        # For the /readyz probe: a Host the service's TrustedHostMiddleware lets in, say.
        self.ready_headers = dict(ready_headers or {})
        self.ready_path = ready_path  # under a service's path_prefix: /prefix/readyz
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None  # a temporary file, from start() to stop()
        self._output = ""

    @property
    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "bentoml", "serve", self.target,
            "--host", self.host, "--port", str(self.port),
            "--working-dir", self.working_dir, *self.args,
        ]  # fmt: skip

    def output(self, tail: int = 4000) -> str:
        """What the server printed (its last ``tail`` characters), also after it stopped."""
        if self._log is not None:
            self._log.flush()
            self._log.seek(0)
            self._output = self._log.read().decode(errors="replace")
        return self._output[-tail:]

    def start(self) -> str:
        if self.process is not None:
            raise RuntimeError(f"tiffin: {self.target} is already served on {self.url}")
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            self.command,
            cwd=self.working_dir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline_at = time.monotonic() + self.startup_timeout
        with httpx.Client(base_url=self.url, timeout=2.0, headers=self.ready_headers) as client:
            while True:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    self.stop()
                    raise RuntimeError(
                        f"tiffin: `{' '.join(self.command[2:])}` exited with status {code} "
                        f"before it was ready; its output ends with:\n{self.output()}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if client.get(self.ready_path).status_code == 200:
                        return self.url
                if time.monotonic() > deadline_at:
                    self.stop()
                    raise DeadlineExceeded(
                        f"tiffin: `{' '.join(self.command[2:])}` was not ready on {self.url} "
                        f"within {self.startup_timeout:g}s; its output ends with:\n"
                        f"{self.output()}"
                    )
                time.sleep(0.1)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            children = _children(process.pid)  # workers run in sessions of their own
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.shutdown_timeout)
            except subprocess.TimeoutExpired:
                for pid in [process.pid, *children]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                process.wait(5)
        if self._log is not None:
            self.output()
            self._log.close()
            self._log = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


def _children(pid: int) -> list[int]:
    try:
        psutil: Any = importlib.import_module("psutil")  # installed with bentoml
    except ImportError:  # pragma: no cover
        return []
    with contextlib.suppress(psutil.Error):
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    return []


class BentoMLServers:
    """One ``bentoml serve`` per target for a test session (fixture ``tiffin_bentoml_serve``)."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.servers: dict[tuple[str, str], BentoMLServer] = {}

    def __call__(self, target: Any, /, *, working_dir: str | None = None) -> str:
        """The URL of ``bentoml serve target``, started on first use, stopped at the end."""
        key = resolve_target(target, working_dir)
        if key not in self.servers:
            server = BentoMLServer(key[0], working_dir=key[1], **self.options)
            server.start()
            self.servers[key] = server
        return self.servers[key].url

    def close(self) -> None:
        servers, self.servers = list(self.servers.values()), {}
        for server in reversed(servers):
            server.stop()
