"""Run `tiffin serve` as a subprocess on a free loopback port, as a user would."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
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


@contextlib.contextmanager
def served(
    target: str,
    *args: str,
    cwd: Path = REPO,
    ready_within: float = 20.0,
    extra_path: Path | None = None,
    probe_host: str | None = None,
) -> Iterator[str]:
    """Serve ``target`` and yield its base URL once ``/readyz`` answers 200.

    ``extra_path`` goes first on the server's PYTHONPATH (for stand-in packages);
    ``probe_host`` is the Host header of the readiness probe (for TrustedHost).
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
    probe_headers = {"host": probe_host} if probe_host else {}
    port = free_port()
    process = subprocess.Popen(
        tiffin_command("serve", target, "--port", str(port), *args),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise AssertionError(f"tiffin serve exited with {process.returncode}:\n{output}")
            with contextlib.suppress(httpx.HTTPError):
                if (
                    httpx.get(f"{base_url}/readyz", headers=probe_headers, timeout=1).status_code
                    == 200
                ):
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"tiffin serve {target} was not ready in {ready_within}s")
            time.sleep(0.05)
        yield base_url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout:
            process.stdout.close()
