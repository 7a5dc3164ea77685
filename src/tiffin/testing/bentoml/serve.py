"""The real thing: ``bentoml serve module:Svc`` in a subprocess on a free loopback port.

``BentoMLServer`` runs one; ``BentoMLServers`` (fixture ``tiffin_bentoml_serve``) keeps
one per target for a test session.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from tiffin.testing.bentoml.detect import is_bentoml_service
from tiffin.testing.bentoml.process import PROMETHEUS_ENV
from tiffin.testing.loops import DeadlineExceeded


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
