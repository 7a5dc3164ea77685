"""A tiffin service on Ray Serve: many replicas, many machines (``pip install "tiffin[ray]"``).

    from tiffin.ray import deployment
    serve.run(deployment("service.py:MyService", replicas=2), route_prefix="/")

or with Ray's own tools, through the application builder ``tiffin.ray:app``:

    serve run tiffin.ray:app target=service.py:MyService replicas=2

Each replica imports the service from its target, starts it in its constructor
and serves its composed app: tiffin's routes, limits and errors hold in every
replica. ``tiffin.ray.options`` holds the mapping of a service's configuration
to Ray's options; ``tiffin.ray.replica`` the replica itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, PositiveFloat, PositiveInt, ValidationError

from tiffin.exceptions import BentoMLConfigException
from tiffin.ray.options import deployment_options

if TYPE_CHECKING:
    from ray.serve import Application

    from tiffin.service import Service

__all__ = ["AppArgs", "app", "application", "deployment"]


def deployment(
    target: str,
    *,
    replicas: int | None = None,
    timeout: float | None = None,
    graceful_timeout: float | None = None,
    working_dir: str | None = None,
    **options: Any,
) -> Application:
    """A Ray Serve application serving the tiffin service ``target`` names.

    ``target`` is ``module:Service``, ``path/to/file.py:Service`` or a module
    holding one service, found from ``working_dir`` (default: the current
    directory), as ``tiffin serve`` finds it. ``replicas`` overrides the
    service's ``workers``; ``timeout`` its traffic timeout; ``graceful_timeout``
    is how long a stopping replica lets requests finish. ``options`` are
    Ray Serve's own deployment options (``ray_actor_options``,
    ``health_check_period_s``, ...).

    The service is imported here to read its configuration, and again by each
    replica from ``target``: the app itself is never pickled.
    """
    from tiffin.serving import load_service

    directory = str(Path(working_dir or os.getcwd()).resolve())
    service = load_service(target, working_dir=directory)
    return application(
        service,
        target,
        working_dir=directory,
        replicas=replicas,
        timeout=timeout,
        graceful_timeout=graceful_timeout,
        **options,
    )


def application(
    service: Service[Any],
    target: str,
    *,
    working_dir: str,
    replicas: int | None = None,
    timeout: float | None = None,
    graceful_timeout: float | None = None,
    **options: Any,
) -> Application:
    """:func:`deployment` for a service already imported from ``target`` (read for its
    configuration; the replicas import ``target`` themselves)."""
    from ray import serve

    from tiffin.ray.replica import ServiceReplica

    traffic = {"timeout": timeout} if timeout is not None else None
    config = service.to_asgi(traffic=traffic).runtime.config if traffic else service.config
    settings = deployment_options(
        config, replicas=replicas, graceful_timeout=graceful_timeout, options=options
    )
    ingress = serve.ingress()(ServiceReplica)
    return serve.deployment(**settings)(ingress).bind(target, working_dir, traffic)


class AppArgs(BaseModel):
    """The arguments of ``tiffin.ray:app`` (``key=value`` on ``serve run``, ``args:`` in a
    Serve config file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str
    replicas: PositiveInt | None = None
    timeout: PositiveFloat | None = None
    graceful_timeout: PositiveFloat | None = None
    working_dir: str | None = None


def app(args: dict[str, Any]) -> Application:
    """The application builder for Ray's tools: ``serve run tiffin.ray:app target=...``.

    In a Serve config file (``serve deploy``, KubeRay's ``RayService``)::

        applications:
          - name: my-service
            route_prefix: /
            import_path: tiffin.ray:app
            args: {target: "service:MyService", replicas: 2}
    """
    try:
        parsed = AppArgs.model_validate(args)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'args'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise BentoMLConfigException(
            f"tiffin.ray:app: {problems} (arguments: {', '.join(AppArgs.model_fields)}; "
            "e.g. serve run tiffin.ray:app target=service.py:MyService replicas=2)"
        ) from None
    return deployment(
        parsed.target,
        replicas=parsed.replicas,
        timeout=parsed.timeout,
        graceful_timeout=parsed.graceful_timeout,
        working_dir=parsed.working_dir,
    )
