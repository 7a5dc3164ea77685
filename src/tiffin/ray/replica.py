"""One Ray Serve replica of a tiffin service: import it, start it, serve it, stop it.

The replica imports the service from its target string (``module:Service``),
as each ``tiffin serve --workers`` worker does. It never receives a pickled app:
``serve.ingress(app)`` freezes a copy of the app when the class is decorated, so
routes added to a mounted app after the class (the seed's ``/v1/hello1``) would
be missing (ray#39725).

The service starts in the replica's constructor. A failed startup is then the
constructor's exception, and Ray shows its message (service, step, cause) in
``serve status``; through the ASGI lifespan Ray would only say "ASGI lifespan
startup failed. Check replica logs" (ray#37575). It stops in ``__del__``, which
Ray awaits when it stops the replica gracefully.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiffin.infra import answers_true

if TYPE_CHECKING:
    from tiffin.app import ComposedApp

logger = logging.getLogger("tiffin")

REPLICA_LABEL = "replica"  # the label Ray's own metrics name a replica with


class ServiceReplica:
    """The deployment class (``serve.ingress()`` wraps it): one running composed app."""

    async def __init__(  # type: ignore[misc]  # Ray Serve awaits an async constructor
        self,
        target: str,
        working_dir: str | None = None,
        traffic: dict[str, Any] | None = None,
    ) -> None:
        from ray import serve

        from tiffin.serving import load_service

        self._stopped = False
        if working_dir is not None and not os.path.isdir(working_dir):
            working_dir = None  # another machine: the code came with Ray's runtime_env, in the cwd
        service = load_service(target, working_dir=working_dir)
        self._composed: ComposedApp = service.to_asgi(traffic=traffic or None)
        await self._composed.startup()  # raises tiffin's StartupError: service, step, cause
        replica = serve.get_replica_context().replica_id.unique_id
        self._served = ReplicaApp(self._composed, replica)

    def __serve_build_asgi_app__(self) -> ASGIApp:
        return self._served

    async def check_health(self) -> None:
        """Ray's health check: the service's readiness, ``__is_alive__`` and ``__is_ready__``.

        A replica that fails it is replaced by Ray (Ray has no separate readiness).
        """
        runtime = self._composed.runtime
        if not runtime.ready:
            raise RuntimeError(f"service {runtime.name!r} is not ready: it is not running")
        for method in ("__is_alive__", "__is_ready__"):
            if not await answers_true(runtime.instance, method):
                raise RuntimeError(f"service {runtime.name!r}: {method}() returned false")

    async def __del__(self) -> None:
        if self._stopped or not hasattr(self, "_composed"):
            return
        self._stopped = True
        await self._composed.shutdown()


class ReplicaApp:
    """What Ray serves: the composed app, with the ``/metrics`` of a replica.

    Ray drives the app's ASGI lifespan too; the composed app answers it without
    starting again (it started in the constructor, and stops in ``__del__``).
    ``/metrics`` is this replica's own registry, every
    sample labelled ``replica="<Ray's replica id>"`` (the label Ray's own
    metrics use), so scrapes of different replicas never read as one series.
    """

    def __init__(self, app: ComposedApp, replica: str) -> None:
        self.app = app
        self.replica = replica
        self.metrics_path = app.runtime.config.path_prefix + "/metrics"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"] == self.metrics_path
        ):
            await self.app(scope, receive, _relabelled(send, self.replica))
        else:
            await self.app(scope, receive, send)


def _relabelled(send: Send, replica: str) -> Send:
    """``send`` for a ``/metrics`` response: its Prometheus text gains the replica label."""
    start: Message | None = None
    body: list[bytes] = []

    async def relabel(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            if message["status"] != 200:
                await send(message)
                return
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        body.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        text = with_label(b"".join(body).decode(), REPLICA_LABEL, replica).encode()
        headers = MutableHeaders(raw=list(start["headers"]))
        if "content-length" in headers:
            headers["content-length"] = str(len(text))
        await send({**start, "headers": headers.raw})
        await send({"type": "http.response.body", "body": text})

    return relabel


def with_label(exposition: str, name: str, value: str) -> str:
    """Prometheus text with ``name="value"`` added first to every sample's labels."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    label = f'{name}="{escaped}"'
    lines = []
    for line in exposition.splitlines(keepends=True):
        if not line.strip() or line.startswith("#"):
            lines.append(line)
            continue
        space = line.find(" ")
        brace = line.find("{")
        if 0 <= brace < space:
            separator = "" if line[brace + 1] == "}" else ","
            line = f"{line[: brace + 1]}{label}{separator}{line[brace + 1 :]}"
        else:
            line = f"{line[:space]}{{{label}}}{line[space:]}"
        lines.append(line)
    return "".join(lines)
