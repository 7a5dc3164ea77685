"""The contenders as servers: how each is launched, when it is ready, and its worker's memory.

(a) a bare ASGI callable on uvicorn, (b) the FastAPI app alone on uvicorn,
(c) ``tiffin serve`` with that app mounted, (d) ``bentoml serve`` with the same
service source. Every server logs as it would by default (uvicorn's access log
at ``info``); the log goes to a file.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
APPS_DIR = BENCH_DIR / "apps"
REPO = BENCH_DIR.parent


@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    command: tuple[str, ...]  # "{port}" is replaced by the port
    env: dict[str, str] = field(default_factory=dict)
    worker_marker: str | None = None  # a child process whose command line holds this is the worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bentoml_env(home: Path) -> dict[str, str]:
    return {
        "BENCH_IMPL": "bentoml",
        "BENTOML_HOME": str(home),
        "BENTOML_DO_NOT_TRACK": "true",
    }


def contenders(python: str, bentoml_python: str | None, bentoml_home: Path) -> list[Contender]:
    found = [
        Contender(
            "bare",
            "bare ASGI on uvicorn",
            (python, "-m", "uvicorn", "bare_asgi:app", "--port", "{port}"),
        ),
        Contender(
            "fastapi",
            "FastAPI alone on uvicorn",
            (python, "-m", "uvicorn", "fastapi_app:app", "--port", "{port}"),
        ),
        Contender(
            "tiffin",
            "tiffin serve",
            (python, "-m", "tiffin", "serve", "service.py:BenchService", "--port", "{port}"),
        ),
    ]
    if bentoml_python is not None:
        found.append(
            Contender(
                "bentoml",
                "bentoml serve",
                (
                    bentoml_python,
                    "-m",
                    "bentoml",
                    "serve",
                    "service.py:BenchService",
                    "--port",
                    "{port}",
                ),
                env=bentoml_env(bentoml_home),
                worker_marker="_bentoml_impl.worker",
            )
        )
    return found


class Server:
    """One launched contender: its port, process, log, and the seconds it took to be ready."""

    def __init__(self, contender: Contender, log_dir: Path) -> None:
        self.contender = contender
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{contender.key}-{self.port}.log"
        self._log = self.log_path.open("w")
        command = [part.replace("{port}", str(self.port)) for part in contender.command]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **contender.env}
        self.launched = time.perf_counter()
        self.process = subprocess.Popen(
            command,
            cwd=APPS_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.ready_after: float | None = None

    def wait_ready(self, within: float = 60.0, interval: float = 0.005) -> float:
        """Poll ``/readyz`` until it answers 200; the seconds from launch to that answer."""
        deadline = self.launched + within
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.contender.label} exited with {self.process.returncode}:\n"
                    + self.log_path.read_text()[-3000:]
                )
            if get_status(self.port, "/readyz") == 200:
                self.ready_after = time.perf_counter() - self.launched
                return self.ready_after
            time.sleep(interval)
        raise RuntimeError(
            f"{self.contender.label} was not ready within {within}s:\n"
            + self.log_path.read_text()[-3000:]
        )

    def worker_pid(self) -> int:
        marker = self.contender.worker_marker
        if marker is None:
            return self.process.pid
        for pid in descendants(self.process.pid):
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                if marker.encode() in cmdline:
                    return pid
        raise RuntimeError(f"no worker process of {self.contender.label} found")

    def worker_rss_mb(self) -> float:
        return rss_mb(self.worker_pid())

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self._log.close()


@contextlib.contextmanager
def running(contender: Contender, log_dir: Path) -> Iterator[Server]:
    server = Server(contender, log_dir)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def get_status(port: int, path: str) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def request(port: int, method: str, path: str, body: str = "") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"} if body else {}
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")
