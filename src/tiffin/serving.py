"""``tiffin serve``: find the service a TARGET names and serve it with uvicorn.

One worker: the composed app runs in this process. Several workers (or
``--reload``): uvicorn's own supervisors start the worker processes, and each
builds its app with :func:`app_from_environment` (an import string is what
uvicorn needs to start a worker), which reads the TARGET from environment
variables this process sets. For several workers a temporary directory for
prometheus_client's multiprocess mode is made before the workers start and
removed after they stop, so ``/metrics`` in any worker reports all of them.

SIGTERM and SIGINT drain: uvicorn stops accepting, lets requests in flight
finish (at most ``graceful_timeout`` seconds), runs the lifespan shutdown
(mounted apps, then ``on_shutdown`` hooks), and the command exits 0.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from tiffin.arguments import ARGUMENTS_ENV
from tiffin.config_groups import AccessLogging
from tiffin.exceptions import BentoMLConfigException, ImportServiceError
from tiffin.infra import moved_probes
from tiffin.service import Service
from tiffin.stop_signals import on_stop_signals

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

TARGET_ENV = "TIFFIN_SERVE_TARGET"
WORKING_DIR_ENV = "TIFFIN_SERVE_WORKING_DIR"
TIMEOUT_ENV = "TIFFIN_SERVE_TIMEOUT"
# Set once `tiffin serve` ran the @on_deployment hooks: its workers do not run them again.
DEPLOYED_ENV = "TIFFIN_SERVE_DEPLOYED"
FACTORY = "tiffin.serving:app_from_environment"
DEFAULT_GRACEFUL_TIMEOUT = 30
STARTUP_FAILURE = 3  # uvicorn's exit code when the app's startup fails

logger = logging.getLogger("tiffin")


def load_service(
    target: str,
    *,
    working_dir: str | None = None,
    is_service: Callable[[Any], bool] = lambda value: isinstance(value, Service),
) -> Any:
    """``module:Service``, ``path/to/file.py:Service``, or a module holding exactly one service.

    ``is_service`` widens what counts as a service (``tiffin conformance`` takes BentoML's too).
    """
    module_ref, _, attribute = target.partition(":")
    if not module_ref:
        raise ImportServiceError(
            f"{target!r} names no module; use module:Service or file.py:Service"
        )
    directory = working_dir or os.getcwd()
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module = _import(module_ref, directory)
    if attribute:
        found = getattr(module, attribute, None)
        if not is_service(found):
            services = _services_in(module, is_service)
            hint = f" (services there: {', '.join(services)})" if services else ""
            what = "is not a service" if found is not None else "does not exist"
            raise ImportServiceError(f"{module_ref}:{attribute} {what}{hint}")
        return found
    services = _services_in(module, is_service)
    if len(services) != 1:
        listing = ", ".join(services) or "none"
        raise ImportServiceError(
            f"module {module_ref!r} holds {len(services)} services ({listing}); "
            f"name one as {module_ref}:NAME"
        )
    return services[next(iter(services))]


def _import(module_ref: str, directory: str) -> Any:
    try:
        if module_ref.endswith(".py"):
            path = Path(directory, module_ref).resolve()
            if not path.is_file():
                raise ImportServiceError(f"no such file: {path}")
            sys.path.insert(0, str(path.parent))
            spec = importlib.util.spec_from_file_location(path.stem, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module
            spec.loader.exec_module(module)
            return module
        return importlib.import_module(module_ref)
    except ImportServiceError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name == module_ref.partition(".")[0] or exc.name == module_ref:
            raise ImportServiceError(
                f"cannot import {module_ref!r}: no such module (run from the directory holding it, "
                "or pass --working-dir)"
            ) from exc
        raise ImportServiceError(f"importing {module_ref!r} failed: {exc}") from exc
    except Exception as exc:
        raise ImportServiceError(
            f"importing {module_ref!r} failed: {type(exc).__name__}: {exc}"
        ) from exc


def _services_in(module: Any, is_service: Callable[[Any], bool]) -> dict[str, Any]:
    return {name: value for name, value in vars(module).items() if is_service(value)}


@dataclass(frozen=True)
class ServeOptions:
    target: str
    host: str = "127.0.0.1"
    port: int = 3000
    workers: int | None = None
    timeout: float | None = None
    graceful_timeout: int = DEFAULT_GRACEFUL_TIMEOUT
    reload: bool = False
    log_level: str = "info"
    working_dir: str | None = None
    arguments: tuple[tuple[str, str], ...] = ()  # --arg key=value, for use_arguments()
    server: str = "uvicorn"  # or hypercorn, granian (tiffin.servers): one worker, no --reload


def worker_count(service: Service[Any], requested: int | None) -> int:
    """``--workers``, else the service's ``workers``, else its ``resources["cpu"]``, else 1."""
    if requested is not None:
        if requested < 1:
            raise BentoMLConfigException(f"--workers must be at least 1, got {requested}")
        return requested
    config = service.config
    return config.workers or config.resources.cpu_count() or 1


def serve(options: ServeOptions) -> int:
    """Serve ``options.target`` until SIGTERM or SIGINT; the exit status of ``tiffin serve``."""
    import uvicorn

    from tiffin.banner import startup_banner

    working_dir = os.path.abspath(options.working_dir or os.getcwd())
    if options.arguments:
        # Read by use_arguments() when the module is imported, here and in every worker.
        os.environ[ARGUMENTS_ENV] = json.dumps(dict(options.arguments))
    service = load_service(options.target, working_dir=working_dir)
    workers = worker_count(service, options.workers)
    if options.reload and workers > 1:
        raise BentoMLConfigException(
            f"--reload serves with one worker, but {workers} workers were asked for; "
            "drop --workers (or --reload)"
        )
    if options.server != "uvicorn" and (workers > 1 or options.reload):
        raise BentoMLConfigException(
            f"--server {options.server} serves with one worker and no --reload; "
            f"{workers} workers{' and --reload' if options.reload else ''} were asked for "
            "(serve those with uvicorn, the default)"
        )
    tls = ssl_options(service)
    if options.server != "uvicorn" and tls:
        raise BentoMLConfigException(
            f"--server {options.server} does not serve the service's ssl settings; "
            "serve it with uvicorn (the default), or drop ssl from its config"
        )
    if options.log_level in ("debug", "info"):
        banner = startup_banner(
            service,
            target=options.target,
            host=options.host,
            port=options.port,
            workers=workers,
            scheme="https" if tls else "http",
        )
        print(banner, file=sys.stderr, flush=True)
    # @on_deployment: once, before any worker starts (BentoML runs them in its arbiter).
    service.run_deployment_hooks()

    common: dict[str, Any] = {
        "host": options.host,
        "port": options.port,
        "lifespan": "on",
        "log_level": options.log_level,
        "log_config": log_config(
            options.log_level,
            service.config.logging.access,
            extra_skip=tuple(moved_probes(service.config)),
        ),
        "access_log": service.config.logging.access.enabled,
        **tls,
        "timeout_graceful_shutdown": options.graceful_timeout,
    }
    if workers == 1 and not options.reload:
        traffic = {"timeout": options.timeout} if options.timeout is not None else None
        app = service.to_asgi(traffic=traffic)
        app.runtime.deployment_hooks_pending = False  # ran above
        if options.server != "uvicorn":
            from tiffin.servers import serve_with

            return serve_with(
                options.server,
                app,
                host=options.host,
                port=options.port,
                graceful_timeout=options.graceful_timeout,
            )
        config = uvicorn.Config(app, **common)
        return _run_server(uvicorn.Server(config))

    with _worker_environment(options, working_dir, metrics=workers > 1):
        config = uvicorn.Config(
            FACTORY,
            factory=True,
            workers=workers,
            reload=options.reload,
            reload_dirs=_reload_dirs(options.target, working_dir) if options.reload else None,
            **common,
        )
        return _run_supervised(config)


def ssl_options(service: Service[Any]) -> dict[str, Any]:
    """uvicorn's TLS options from the service's ``ssl`` config: TLS when a certfile is named,
    as ``bentoml serve`` does."""
    ssl = service.config.ssl
    if ssl.certfile is None:
        if ssl.enabled:
            raise BentoMLConfigException(
                f"service {service.name!r}: ssl is enabled but names no certfile; "
                'set ssl={"certfile": ..., "keyfile": ...}'
            )
        return {}
    options = {
        "ssl_certfile": ssl.certfile,
        "ssl_keyfile": ssl.keyfile,
        "ssl_keyfile_password": ssl.keyfile_password,
        "ssl_ca_certs": ssl.ca_certs,
        "ssl_version": ssl.version,
        "ssl_cert_reqs": ssl.cert_reqs,
        "ssl_ciphers": ssl.ciphers,
    }
    return {key: value for key, value in options.items() if value is not None}


def log_config(
    log_level: str, access: AccessLogging | None = None, extra_skip: tuple[str, ...] = ()
) -> dict[str, Any]:
    """uvicorn's logging config, with the ``tiffin`` logger printed as uvicorn's are.

    Without a handler of its own, tiffin's records (the traceback of an exception in an
    API, a failed startup) would reach only Python's last-resort handler: unformatted,
    and at WARNING whatever ``--log-level`` says. The access log leaves out the
    service's ``logging.access.skip_paths`` (BentoML's default: the probes) and,
    as BentoML, the probe paths ``endpoints`` names (``extra_skip``).
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)  # uvicorn edits the dict it is given
    config["loggers"]["tiffin"] = {
        "handlers": ["default"],
        "level": log_level.upper(),
        "propagate": False,
    }
    skip = [*(access or AccessLogging()).skip_paths, *extra_skip]
    if skip:
        config.setdefault("filters", {})["tiffin_skip_paths"] = {
            "()": "tiffin.serving.SkipPaths",
            "paths": list(skip),
        }
        config["handlers"]["access"].setdefault("filters", []).append("tiffin_skip_paths")
    return config


class SkipPaths(logging.Filter):
    """Drops uvicorn access-log records of the given paths (query strings ignored)."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__()
        self.paths = frozenset(paths)

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's access record: (client, method, path with query, http version, status)
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            return args[2].partition("?")[0] not in self.paths
        return True


def app_from_environment() -> ASGIApp:
    """The app of one worker process: the TARGET that ``tiffin serve`` put in the environment."""
    target = os.environ.get(TARGET_ENV)
    if not target:
        raise ImportServiceError(
            f"{TARGET_ENV} is not set; start workers with `tiffin serve TARGET --workers N`"
        )
    service = load_service(target, working_dir=os.environ.get(WORKING_DIR_ENV))
    timeout = os.environ.get(TIMEOUT_ENV)
    app = service.to_asgi(traffic={"timeout": float(timeout)} if timeout else None)
    if os.environ.get(DEPLOYED_ENV):
        app.runtime.deployment_hooks_pending = False  # tiffin serve ran them once
    return WorkerApp(app)


class WorkerApp:
    """A worker's composed app; once its shutdown completes, its live gauges are dropped."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_then_forget(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                from tiffin.metrics import mark_worker_stopped

                mark_worker_stopped()
            await send(message)

        await self.app(scope, receive, send_then_forget)


def _run_server(server: Any) -> int:
    with _exit_zero_on_stop_signals():
        server.run()
    return 0 if server.started else STARTUP_FAILURE  # a failed startup is already logged


def _run_supervised(config: Any) -> int:
    from uvicorn.supervisors import ChangeReload

    from tiffin.compat.uvicorn import draining_multiprocess
    from tiffin.metrics import mark_worker_stopped

    sock = config.bind_socket()
    try:
        if config.should_reload:
            from uvicorn import Server

            ChangeReload(config, target=Server(config).run, sockets=[sock]).run()
            return 0
        # A worker that died never ran its shutdown: its live gauges are dropped, or its
        # requests in flight would stay "in progress" for good.
        supervisor = draining_multiprocess(mark_worker_stopped)(config, sockets=[sock])
        supervisor.run()
    finally:
        sock.close()
    failed = [process for process in supervisor.processes if process.exitcode == STARTUP_FAILURE]
    return STARTUP_FAILURE if failed else 0


@contextlib.contextmanager
def _exit_zero_on_stop_signals() -> Iterator[None]:
    """uvicorn re-raises SIGTERM/SIGINT after draining; by then stopping is a success."""

    def stopped(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    with on_stop_signals(stopped):
        yield


@contextlib.contextmanager
def _worker_environment(
    options: ServeOptions, working_dir: str, *, metrics: bool
) -> Iterator[None]:
    """Set what the workers read, make the shared metrics directory; undo both afterwards."""
    from tiffin.metrics import MULTIPROCESS_DIR_ENV

    saved = {
        key: os.environ.get(key)
        for key in (TARGET_ENV, WORKING_DIR_ENV, TIMEOUT_ENV, MULTIPROCESS_DIR_ENV, DEPLOYED_ENV)
    }
    made: str | None = None
    os.environ[TARGET_ENV] = options.target
    os.environ[DEPLOYED_ENV] = "1"
    os.environ[WORKING_DIR_ENV] = working_dir
    if options.timeout is not None:
        os.environ[TIMEOUT_ENV] = repr(options.timeout)
    else:
        os.environ.pop(TIMEOUT_ENV, None)
    if metrics and not os.environ.get(MULTIPROCESS_DIR_ENV):
        made = tempfile.mkdtemp(prefix="tiffin-metrics-")
        os.environ[MULTIPROCESS_DIR_ENV] = made
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


def _reload_dirs(target: str, working_dir: str) -> list[str]:
    module_ref = target.partition(":")[0]
    directories = [working_dir]
    if module_ref.endswith(".py"):
        parent = str(Path(working_dir, module_ref).resolve().parent)
        if parent not in directories:
            directories.append(parent)
    return directories
