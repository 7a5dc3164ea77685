"""``tiffin serve TARGET --ray``: the service on Ray Serve, from the command line.

Without ``--address`` a local Ray starts in this process and stops with it. With
``--address`` the service is deployed on that cluster, and removed from it on
exit (the cluster keeps running). Ray's HTTP proxy listens on ``--host:--port``
(127.0.0.1:3000 by default) with its request timeout above tiffin's own.

A startup that fails in the replicas is reported with tiffin's message (service,
step, cause), as ``serve status`` shows it, and the command exits 3, as
``tiffin serve`` does.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from tiffin.ray.options import request_timeout

if TYPE_CHECKING:
    from tiffin.serving import ServeOptions

STARTUP_FAILURE = 3  # as tiffin serve (uvicorn's code for a failed startup)
LOOPBACK = "127.0.0.1"


def serve_on_ray(options: ServeOptions, *, address: str | None, replicas: int | None) -> int:
    """Deploy ``options.target`` on Ray Serve and serve until SIGTERM or SIGINT."""
    import ray
    from ray import serve

    from tiffin.ray import application
    from tiffin.serving import load_service

    working_dir = os.path.abspath(options.working_dir or os.getcwd())
    service = load_service(options.target, working_dir=working_dir)  # fail fast, before Ray
    app = application(
        service,
        options.target,
        replicas=replicas,
        timeout=options.timeout,
        graceful_timeout=options.graceful_timeout,
        working_dir=working_dir,
    )
    name = service.name
    if address is None:
        # A local Ray owned by this process: on loopback, stopped by ray.shutdown().
        ray.init(_node_ip_address=LOOPBACK, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)
    try:
        already_serving = bool(serve.status().proxies)
        serve.start(
            http_options={
                "host": options.host,
                "port": options.port,
                "request_timeout_s": request_timeout(service.config, options.timeout),
            }
        )
        where = (
            "this cluster's Serve HTTP proxy (Serve was running: its host, port and "
            "request timeout stay as they were)"
            if already_serving
            else f"http://{options.host}:{options.port}"
        )
        print(
            f"tiffin: deploying {name!r} on Ray Serve ({ray.get_runtime_context().gcs_address})",
            file=sys.stderr,
            flush=True,
        )
        try:
            serve.run(app, name=name, route_prefix="/")
        except RuntimeError:
            print(f"tiffin: error: {startup_failure(name)}", file=sys.stderr, flush=True)
            serve.delete(name)
            return STARTUP_FAILURE
        print(
            f"tiffin: {name!r} is serving on {where} "
            f"(Ray Serve, {_replica_count(name)} replicas); Ctrl-C stops it",
            file=sys.stderr,
            flush=True,
        )
        _wait_for_stop_signal()
        serve.delete(name)  # replicas drain (graceful_timeout) and run their shutdown
        return 0
    finally:
        if address is None:
            serve.shutdown()  # type: ignore[no-untyped-call]
        ray.shutdown()


def startup_failure(app_name: str) -> str:
    """Why an application failed to deploy: tiffin's own line of Ray's status message."""
    from ray import serve

    status = serve.status().applications.get(app_name)
    if status is None:
        return f"application {app_name!r} failed to deploy"
    messages = [d.message for d in status.deployments.values() if d.message] or [status.message]
    return "\n".join(_tiffin_line(message) for message in messages)


def _tiffin_line(message: str) -> str:
    """The last ``tiffin.exceptions`` line of a traceback Ray put in its message, or it all."""
    for line in reversed(message.splitlines()):
        for error in ("StartupError: ", "ImportServiceError: "):
            if error in line:
                return line.split(error, 1)[1]
    return message


def _replica_count(app_name: str) -> int:
    from ray import serve

    status = serve.status().applications[app_name]
    return sum(
        count
        for d in status.deployments.values()
        for state, count in d.replica_states.items()
        if state == "RUNNING"
    )


def _wait_for_stop_signal() -> None:
    stop = threading.Event()

    def stopping(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, stopping) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.is_set():
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
