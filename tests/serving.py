"""Run `tiffin serve` as a subprocess on a free loopback port, as a user would."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tiffin_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tiffin", *args]


class ServedProcess:
    """A running ``tiffin serve``: its URL, its process, and everything it printed so far."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with contextlib.suppress(ValueError, OSError):
            for line in self.process.stdout:
                self._lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self._lines)

    def wait_for_exit(self, timeout: float) -> int:
        """The exit status, once the process and its output have ended."""
        returncode = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return returncode


@contextlib.contextmanager
def serving(
    target: str,
    *args: str,
    cwd: Path = REPO,
    ready_within: float = 20.0,
    extra_path: Path | None = None,
    probe_host: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[ServedProcess]:
    """Serve ``target``; yield the running server once ``/readyz`` answers 200.

    ``extra_path`` goes first on the server's PYTHONPATH (for stand-in packages);
    ``probe_host`` is the Host header of the readiness probe (for TrustedHost).
    On the way out the server gets SIGTERM, then SIGKILL after 10 s.
    """
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    if extra_path is not None:
        environment["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(extra_path), environment.get("PYTHONPATH")])
        )
    probe_headers = {"host": probe_host} if probe_host else {}
    port = free_port()
    process = subprocess.Popen(
        tiffin_command("serve", target, "--port", str(port), *args),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        start_new_session=True,  # a signal to the test run never reaches the server by accident
    )
    server = ServedProcess(process, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + ready_within
        while True:
            if process.poll() is not None:
                server.wait_for_exit(5)
                raise AssertionError(
                    f"tiffin serve exited with {process.returncode}:\n{server.output}"
                )
            with contextlib.suppress(httpx.HTTPError):
                probe = httpx.get(f"{server.url}/readyz", headers=probe_headers, timeout=1)
                if probe.status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"tiffin serve {target} was not ready in {ready_within}s:\n{server.output}"
                )
            time.sleep(0.05)
        yield server
    finally:
        stop(server)


def stop(server: ServedProcess) -> None:
    """SIGTERM, then SIGKILL to the whole session (workers included) if it lingers."""
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        # Workers of a server that was killed would outlive it; none may be left behind.
        os.killpg(process.pid, signal.SIGKILL)
    server._reader.join(timeout=5)
    if process.stdout:
        process.stdout.close()


@contextlib.contextmanager
def served(
    target: str,
    *args: str,
    extra_path: Path | None = None,
    probe_host: str | None = None,
) -> Iterator[str]:
    """Serve ``target`` (as :func:`serving`) and yield its base URL."""
    with serving(target, *args, extra_path=extra_path, probe_host=probe_host) as server:
        yield server.url
