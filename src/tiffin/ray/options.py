"""How a tiffin service's configuration becomes Ray Serve deployment options (the mapping table).

| tiffin                                    | Ray Serve                                        |
|-------------------------------------------|--------------------------------------------------|
| ``workers`` (or ``replicas=``)            | ``num_replicas`` (cluster-wide)                  |
| ``resources`` cpu, gpu, memory            | ``ray_actor_options`` num_cpus, num_gpus, memory |
| ``traffic.max_concurrency`` = N           | ``max_ongoing_requests`` = N + 1                 |
| ``traffic.timeout`` (tiffin's 504)        | Ray's ``request_timeout_s``, set above it        |
| ``--graceful-timeout``                    | ``graceful_shutdown_timeout_s``                  |
| readiness, ``__is_alive__``, ``__is_ready__`` | the replica's ``check_health``               |

Why ``max_concurrency + 1``: Ray queues a request a replica has no room for,
silently, in its proxy. One request more than tiffin's limit reaches the
replica, so tiffin answers it ``429`` with ``Retry-After`` as it does alone.
Without a limit, a replica takes ``DEFAULT_MAX_ONGOING_REQUESTS`` at once
(Ray's own default, 5, would queue a sixth request that tiffin would serve).

Nothing here imports Ray: the mapping is plain data, checked before Ray starts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tiffin.exceptions import BentoMLConfigException

if TYPE_CHECKING:
    from tiffin.config import ServiceConfig

DEFAULT_MAX_ONGOING_REQUESTS = 100
# Ray's request timeout is one value for the whole cluster (its HTTP proxy answers 408);
# it sits this far above the longest tiffin timeout, so tiffin's 504 is what clients see.
REQUEST_TIMEOUT_MARGIN = 5.0
DEFAULT_GRACEFUL_TIMEOUT = 30.0

_MEMORY_UNITS = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
    "ki": 2**10,
    "mi": 2**20,
    "gi": 2**30,
    "ti": 2**40,
}
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*$", re.IGNORECASE)

# Options tiffin sets from the service: passing them again is an error, not a silent override.
_MAPPED = frozenset({"name", "num_replicas", "max_ongoing_requests"})


def cpus(value: str | int | float) -> float:
    """``resources["cpu"]`` as Ray's ``num_cpus``: ``"2"`` -> 2.0, ``"500m"`` -> 0.5."""
    text = str(value).strip()
    try:
        number = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        raise BentoMLConfigException(
            f"resources cpu={value!r} is not a number of cores such as 2, '2' or '500m'"
        ) from None
    if number <= 0:
        raise BentoMLConfigException(f"resources cpu={value!r} must be more than 0")
    return number


def memory_bytes(value: str | int | float) -> int:
    """``resources["memory"]`` in bytes: ``"2Gi"``, ``"512Mi"``, ``"1G"``, ``"1.5GB"``, 1024."""
    if isinstance(value, int | float):
        return int(value)
    match = _MEMORY.match(value)
    if match is None:
        raise BentoMLConfigException(
            f"resources memory={value!r} is not an amount such as '2Gi', '512Mi' or '1G'"
        )
    number, unit = match.groups()
    return int(float(number) * _MEMORY_UNITS[(unit or "").lower()])


def actor_options(config: ServiceConfig) -> dict[str, Any]:
    """``ray_actor_options`` from ``resources``; only what the service asks for."""
    resources = config.resources
    options: dict[str, Any] = {}
    if resources.cpu is not None:
        options["num_cpus"] = cpus(resources.cpu)
    if resources.gpu is not None:
        options["num_gpus"] = resources.gpu
    if resources.memory is not None:
        options["memory"] = memory_bytes(resources.memory)
    return options


def request_timeout(config: ServiceConfig, timeout: float | None = None) -> float:
    """The value for Ray's cluster-wide ``request_timeout_s``: above tiffin's own timeout."""
    return (timeout if timeout is not None else config.traffic.timeout) + REQUEST_TIMEOUT_MARGIN


def deployment_options(
    config: ServiceConfig,
    *,
    replicas: int | None = None,
    graceful_timeout: float | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``serve.deployment`` for a service.

    ``options`` are Ray Serve's own (``health_check_period_s``, ``ray_actor_options``...):
    they complete the mapping; ``ray_actor_options`` merge over the service's resources.
    """
    extra = dict(options or {})
    clash = sorted(_MAPPED & extra.keys())
    if clash:
        raise BentoMLConfigException(
            f"service {config.name!r}: {', '.join(clash)} come from the service "
            "(workers or replicas=, traffic max_concurrency, its name); "
            "set them there instead of as Ray options"
        )
    if replicas is not None and (isinstance(replicas, bool) or replicas < 1):
        raise BentoMLConfigException(f"replicas must be at least 1, got {replicas!r}")
    max_concurrency = config.traffic.max_concurrency
    ray_actor_options = {**actor_options(config), **extra.pop("ray_actor_options", {})}
    mapped: dict[str, Any] = {
        "name": config.name,
        "num_replicas": replicas or config.workers or 1,
        "max_ongoing_requests": (
            max_concurrency + 1 if max_concurrency is not None else DEFAULT_MAX_ONGOING_REQUESTS
        ),
        "graceful_shutdown_timeout_s": (
            graceful_timeout if graceful_timeout is not None else DEFAULT_GRACEFUL_TIMEOUT
        ),
    }
    if ray_actor_options:
        mapped["ray_actor_options"] = ray_actor_options
    return {**mapped, **extra}
