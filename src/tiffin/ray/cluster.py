"""A Ray cluster of ``ray start`` processes on this machine, owned by the process that made it.

``LocalRay`` starts ``ray start --block`` processes, each in a session of its
own, so stopping one stops exactly the processes it started (GCS, raylet,
workers, replicas) and a Ctrl-C in a terminal reaches the command, not Ray.
Token authentication is on, with a token made for the cluster and passed in the
environment (never written to ``~/.ray``). Serve's HTTP proxy listens on
127.0.0.1 by default; Ray's own ports listen on every interface (Ray's choice).

``tiffin serve --ray`` without ``--address`` serves on one; the ``tiffin_ray``
test fixture is one (``tiffin.testing.ray``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
START_SECONDS = 90.0  # a head is ready in ~6 s here; a loaded machine takes much longer
STOP_SECONDS = 20.0
READY_LINE = "Ray runtime started."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def session_processes(sid: int) -> list[tuple[int, str]]:
    """The processes of session ``sid`` (Linux /proc), with their command lines."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != sid:  # after ")": state ppid pgrp session ...
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if fields[0] != "Z":
            found.append((int(entry.name), command))
    return found


class RayNode:
    """One ``ray start --block`` process, in a session of its own."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        ray = str(Path(sys.executable).with_name("ray"))
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [ray, "start", "--block", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_started(self, seconds: float = START_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if READY_LINE in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
        self.stop()
        raise RuntimeError(f"ray start did not start within {seconds:g}s:\n{tail}")

    def processes(self) -> list[tuple[int, str]]:
        return session_processes(self.process.pid)

    def stop(self, seconds: float = STOP_SECONDS) -> None:
        """SIGTERM to every process of the node's session, SIGKILL to what is left."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid, _ in self.processes():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + seconds
            while self.processes() and time.monotonic() < deadline:
                time.sleep(0.1)
            if not self.processes():
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(1)


class LocalRay:
    """A Ray cluster of ``ray start`` processes on loopback: a head, and nodes added later."""

    def __init__(self, *, num_cpus: float | None = 2, folder: str | None = None) -> None:
        self.num_cpus = num_cpus
        # Short: Ray puts unix sockets under it (at most 107 characters).
        self.folder = Path(folder or tempfile.mkdtemp(prefix="tr-", dir="/tmp"))
        self.port = free_port()
        self.address = f"{LOOPBACK}:{self.port}"
        self.env = {
            **os.environ,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(16),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        self.nodes: list[RayNode] = []
        self.http_port: int | None = None
        self._saved_env: dict[str, str | None] = {}

    @property
    def url(self) -> str:
        if self.http_port is None:
            raise RuntimeError("Serve is not started: call LocalRay.start_serve() first")
        return f"http://{LOOPBACK}:{self.http_port}"

    def start(self) -> LocalRay:
        head = self._node(
            "head",
            [
                "--head",
                f"--port={self.port}",
                f"--temp-dir={self.folder / 'ray'}",
                "--include-dashboard=false",
                "--disable-usage-stats",
            ],
            self.num_cpus,
        )
        head.wait_started()
        return self

    def add_node(self, num_cpus: float = 1) -> RayNode:
        """Another node on this machine (its own raylet), joined to the head."""
        node = self._node(f"node{len(self.nodes)}", [f"--address={self.address}"], num_cpus)
        node.wait_started()
        return node

    def _node(self, label: str, args: list[str], num_cpus: float | None) -> RayNode:
        cpus = [] if num_cpus is None else [f"--num-cpus={num_cpus:g}"]  # None: Ray counts
        node = RayNode(
            [
                *args,
                f"--node-ip-address={LOOPBACK}",
                *cpus,
                # Two nodes on one machine: ports that default to a fixed number get their own.
                f"--dashboard-agent-listen-port={free_port()}",
                f"--metrics-export-port={free_port()}",
            ],
            self.env,
            self.folder / f"{label}.log",
        )
        self.nodes.append(node)
        return node

    def connect(self) -> None:
        """Make this process a driver of the cluster (token in its environment)."""
        for key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_USAGE_STATS_ENABLED"):
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = self.env[key]
        from tiffin.compat.ray import reread_authentication

        reread_authentication()  # Ray reads its auth settings when imported: maybe before now
        import ray

        ray.init(address=self.address, _node_ip_address=LOOPBACK, log_to_driver=False)

    def start_serve(self, **http_options: Any) -> str:
        """Start Serve with its HTTP proxy on the head only (127.0.0.1 and a free port
        unless given); its URL."""
        from ray import serve

        options = {"host": LOOPBACK, "port": free_port(), **http_options}
        self.http_port = options["port"]
        serve.start(proxy_location="HeadOnly", http_options=options)
        return f"http://{options['host']}:{self.http_port}"

    @contextlib.contextmanager
    def deploy(
        self, target: str, *, name: str | None = None, route_prefix: str = "/", **options: Any
    ) -> Iterator[str]:
        """``with ray.deploy("service.py:MyService", replicas=2) as url:``, then deleted."""
        from ray import serve

        from tiffin.ray import deployment

        application = deployment(target, **options)
        app_name = name or target.rpartition(":")[2] or target
        try:
            serve.run(application, name=app_name, route_prefix=route_prefix)
        except RuntimeError as exc:
            from tiffin.ray.serving import startup_failure

            message = startup_failure(app_name)
            serve.delete(app_name)
            raise RuntimeError(f"{target} failed to deploy on Ray: {message}") from exc
        try:
            yield self.url + ("" if route_prefix == "/" else route_prefix)
        finally:
            serve.delete(app_name)

    def processes(self) -> list[tuple[int, str]]:
        return [process for node in self.nodes for process in node.processes()]

    def stop(self) -> None:
        """Disconnect, stop every node (workers first), remove the temporary folder."""
        import ray

        if ray.is_initialized():
            ray.shutdown()
        for node in reversed(self.nodes):
            node.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> LocalRay:
        try:
            self.start()
            self.connect()
            self.start_serve()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
