"""The options of ``@tiffin.service``, checked when the class is decorated.

``tiffin.service`` imports this module when the first service is defined, not
when ``tiffin`` is imported: building its pydantic models is most of what an
import would otherwise cost.

Every key of BentoML 1.4's service configuration schema is a field of
``ServiceConfig``, validated by type (the groups are in ``config_groups``). A
typo such as ``traffic={"timout": 5}`` fails at definition time with the
service, the key and the keys that are allowed.

Keys fall into two kinds: those with an effect on a running tiffin server
(``RUNTIME_KEYS``), and those that only concern building an image or a cloud
deployment, kept so they can be read back and shown by the banner of
``tiffin serve`` (``ServiceConfig.recorded()``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, PositiveInt, ValidationError

from tiffin.config_groups import (
    DEFAULT_THREADS,
    GROUPS,
    GRPC,
    HTTP,
    SCALARS,
    SSL,
    Endpoints,
    EnvVar,
    Group,
    Logging,
    Metrics,
    Monitoring,
    Resources,
    RunnerConnection,
    RunnerProbe,
    Tracing,
    Traffic,
)
from tiffin.exceptions import BentoMLConfigException

# What each key does in tiffin; the banner and docs/sdk_support.md say the same.
RUNTIME_KEYS = {
    "traffic.timeout": "request timeout (504)",
    "traffic.max_concurrency": "429 past the limit",
    "traffic.max_body_size": "413 past the limit",
    "http.cors": "Starlette's CORSMiddleware",
    "endpoints": "the liveness and readiness probes move",
    "metrics": "enabled, namespace, duration buckets",
    "logging.access": "tiffin serve's access log (enabled, skip_paths)",
    "workers": "tiffin serve's worker processes",
    "threads": "the thread pool of sync APIs",
    "resources.cpu": "default worker count",
    "ssl": "tiffin serve over TLS when a certfile is named",
}


class ServiceConfig(Group):
    """A service's configuration. Attributes for tiffin; ``config["traffic"]`` as BentoML's dict.

    The mapping side holds the BentoML keys that were given, as plain dicts,
    so code written against BentoML's ``Service.config`` reads the same values.
    """

    name: str
    path_prefix: str = ""
    traffic: Traffic = Traffic()
    runner_connection: RunnerConnection = RunnerConnection()
    resources: Resources = Resources()
    metrics: Metrics = Metrics()
    logging: Logging = Logging()
    ssl: SSL = SSL()
    http: HTTP = HTTP()
    grpc: GRPC = GRPC()
    runner_probe: RunnerProbe = RunnerProbe()
    tracing: Tracing = Tracing()
    monitoring: Monitoring = Monitoring()
    endpoints: Endpoints = Endpoints()
    extra_ports: list[int] | None = None
    backlog: Annotated[int, Field(ge=64)] | None = None
    max_runner_connections: PositiveInt | None = None
    workers: PositiveInt | None = None
    replicate_process: bool | None = None
    threads: PositiveInt = DEFAULT_THREADS
    # Arguments of @service beside the configuration dict: recorded.
    description: str | None = None
    envs: list[EnvVar] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    image: Any = None
    cmd: list[str] | None = None

    def as_bentoml_dict(self) -> dict[str, Any]:
        """BentoML's ``Service.config``: the configuration keys that were given."""
        given = self.model_dump(exclude_unset=True, mode="python")
        keys = (*GROUPS, *SCALARS)
        return {key: given[key] for key in keys if key in given}

    def __getitem__(self, key: str) -> Any:
        return self.as_bentoml_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.as_bentoml_dict().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.as_bentoml_dict()

    def keys(self) -> Any:
        return self.as_bentoml_dict().keys()

    def items(self) -> Any:
        return self.as_bentoml_dict().items()

    def with_traffic(self, traffic: dict[str, Any]) -> ServiceConfig:
        """This configuration with ``traffic`` merged over the decorator's own values."""
        merged = {**self.traffic.model_dump(exclude_unset=True), **traffic}
        return self.model_copy(
            update={"traffic": parse_group(self.name, "traffic", Traffic, merged)}
        )

    def recorded(self) -> dict[str, Any]:
        """Given keys with no effect on a tiffin server (building, cloud, tracing...), flattened."""
        found: dict[str, Any] = {}
        given = self.model_dump(exclude_unset=True, exclude_defaults=True, mode="json")
        for key, value in given.items():
            if key in ("name", "path_prefix"):
                continue
            if key == "image" and self.image is not None:
                value = str(self.image)
            for path, leaf in _flatten(key, value):
                if not any(path == k or path.startswith(k + ".") for k in RUNTIME_KEYS):
                    found[path] = leaf
        return found


# The arguments of @service: BentoML's own and tiffin's, then the configuration keys.
SERVICE_ARGUMENTS = frozenset(
    {"name", "path_prefix", "description", "envs", "labels", "image", "cmd"}
    | set(GROUPS)
    | set(SCALARS)
)


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key, inner in value.items():
            yield from _flatten(f"{prefix}.{key}", inner)
    else:
        yield prefix, value


_Group = TypeVar("_Group", bound=Group)


def parse_group(service: str, group: str, model: type[_Group], value: Any) -> _Group:
    """Validate one option group, turning pydantic's error into one that names the service."""
    if value is None:
        return model()
    if isinstance(value, model):
        return value
    if not isinstance(value, dict):
        raise BentoMLConfigException(
            f"service {service!r}: {group}= must be a dict, got {type(value).__name__}"
        )
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise BentoMLConfigException(_describe(service, group, model, exc)) from None


def build_config(name: str, options: dict[str, Any]) -> ServiceConfig:
    """The whole configuration of ``@service(**options)``, with errors naming the service."""
    fields: dict[str, Any] = {"name": name}
    for key, value in options.items():
        if key in GROUPS:
            if value is not None:
                fields[key] = parse_group(name, key, GROUPS[key], value)
        elif key == "workers" and value == "cpu_count":
            fields[key] = os.cpu_count() or 1
        elif (
            key in ("workers", "threads")
            and value is not None
            and (isinstance(value, bool) or not isinstance(value, int) or value < 1)
        ):
            raise BentoMLConfigException(
                f"service {name!r}: {key} must be a positive whole number, got {value!r}"
            )
        elif value is not None:
            fields[key] = value
    try:
        return ServiceConfig.model_validate(fields)
    except ValidationError as exc:
        raise BentoMLConfigException(_describe(name, "configuration", ServiceConfig, exc)) from None


def _describe(service: str, group: str, model: type[BaseModel], exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            known = ", ".join(_known_keys(model, error["loc"][:-1]))
            problems.append(f"unknown key {key!r} (known keys: {known})")
        else:
            problems.append(f"key {key!r}: {error['msg']} (got {error['input']!r})")
    return f"service {service!r}: invalid {group}: " + "; ".join(problems)


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the (nested) model an unknown key was found in."""
    for part in loc:
        field = model.model_fields.get(str(part))
        inner = getattr(field, "annotation", None) if field is not None else None
        candidates = [inner, *getattr(inner, "__args__", ())]
        nested = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if nested is None:
            break
        model = nested
    return list(model.model_fields)


def normalize_prefix(service: str, prefix: Any) -> str:
    """``"pp"``, ``"/pp/"`` -> ``"/pp"``; ``None``, ``""``, ``"/"`` -> ``""`` (no prefix)."""
    if prefix is None:
        return ""
    if not isinstance(prefix, str):
        raise BentoMLConfigException(
            f"service {service!r}: path_prefix must be a string such as '/api', "
            f"got {type(prefix).__name__}"
        )
    stripped = prefix.strip("/")
    return f"/{stripped}" if stripped else ""
