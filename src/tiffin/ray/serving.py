"""``tiffin serve TARGET --ray``: the service on Ray Serve, from the command line.

Without ``--address`` a local Ray starts (``ray start`` processes in a session of
their own, so a Ctrl-C reaches this command, which stops them) and stops with it. With
``--address`` the service is deployed on that cluster, and removed from it on
exit (the cluster keeps running). Ray's HTTP proxy listens on ``--host:--port``
(127.0.0.1:3000 by default) with its request timeout above tiffin's own.

A startup that fails in the replicas is reported with tiffin's message (service,
step, cause), as ``serve status`` shows it, and the command exits 3, as
``tiffin serve`` does.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tiffin.arguments import ARGUMENTS_ENV
from tiffin.ray.options import request_timeout
from tiffin.stop_signals import on_stop_signals

if TYPE_CHECKING:
    from tiffin.serving import ServeOptions

STARTUP_FAILURE = 3  # as tiffin serve (uvicorn's code for a failed startup)


def serve_on_ray(options: ServeOptions, *, address: str | None, replicas: int | None) -> int:
    """Deploy ``options.target`` on Ray Serve and serve until SIGTERM or SIGINT."""
    from tiffin.ray import application
    from tiffin.serving import load_service

    working_dir = os.path.abspath(options.working_dir or os.getcwd())
    # --arg values for use_arguments(): read when the module is imported, here and in
    # every replica (Ray passes the variable in each replica's runtime_env).
    env = {ARGUMENTS_ENV: json.dumps(dict(options.arguments))} if options.arguments else {}
    os.environ.update(env)
    service = load_service(options.target, working_dir=working_dir)  # fail fast, before Ray
    app = application(
        service,
        options.target,
        working_dir=working_dir,
        replicas=replicas,
        timeout=options.timeout,
        graceful_timeout=options.graceful_timeout,
        **({"ray_actor_options": {"runtime_env": {"env_vars": env}}} if env else {}),
    )
    http_options = {
        "host": options.host,
        "port": options.port,
        "request_timeout_s": request_timeout(service.config, options.timeout),
    }
    with _stop_signals_raise():
        cluster = None
        try:
            if address is None:
                from tiffin.ray.cluster import LocalRay

                cluster = LocalRay(num_cpus=None)  # every core; stopped on exit
                _say("starting a local Ray (ray start, on 127.0.0.1)")
                cluster.start()
                cluster.connect()
                cluster.start_serve(**http_options)
                where = f"http://{options.host}:{options.port}"
            else:
                where = _join(address, http_options)
            return _run(app, service.name, where)
        except _Stopped:
            return 0
        finally:
            if cluster is not None:
                cluster.stop()
            else:
                _disconnect()


class _Stopped(Exception):
    """SIGTERM or SIGINT: stop deploying or serving, delete the application, exit."""


def _run(app: Any, name: str, where: str) -> int:
    from ray import serve

    _say(f"deploying {name!r} on Ray Serve")
    try:
        try:
            serve.run(app, name=name, route_prefix="/")
        except RuntimeError:
            _say(f"error: {startup_failure(name)}")
            return STARTUP_FAILURE
        count = _replica_count(name)
        _say(
            f"{name!r} is serving on {where} (Ray Serve, {count} "
            f"{'replica' if count == 1 else 'replicas'}); Ctrl-C stops it"
        )
        while True:
            time.sleep(3600)
    finally:
        with _stop_signals_ignored():
            serve.delete(name)  # replicas drain (graceful_timeout) and run their shutdown


def _join(address: str, http_options: dict[str, Any]) -> str:
    """Connect to a running cluster; where its proxy serves."""
    import ray
    from ray import serve

    ray.init(address=address, log_to_driver=False)
    if serve.status().proxies:
        return (
            "this cluster's Serve HTTP proxy (Serve was running: its host, port and "
            "request timeout stay as they were)"
        )
    serve.start(http_options=http_options)
    return f"http://{http_options['host']}:{http_options['port']}"


def _disconnect() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


def _say(message: str) -> None:
    print(f"tiffin: {message}", file=sys.stderr, flush=True)


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


@contextlib.contextmanager
def _stop_signals_raise() -> Iterator[None]:
    def stop(signum: int, frame: Any) -> None:
        raise _Stopped

    with on_stop_signals(stop):
        yield


@contextlib.contextmanager
def _stop_signals_ignored() -> Iterator[None]:
    """While the application is deleted: a second Ctrl-C does not cut the drain short."""
    with on_stop_signals(signal.SIG_IGN):
        yield
