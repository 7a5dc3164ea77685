"""The options of ``@tiffin.service``, checked when the class is decorated.

Every key of BentoML 1.4's service configuration schema
(``_bentoml_sdk/service/config.py``, checked against BentoML 1.4.40) is a
field here, validated by type. Each group is a pydantic model that forbids
unknown keys, so a typo such as ``traffic={"timout": 5}`` fails at definition
time with the service, the key and the keys that are allowed.

Keys fall into two kinds (``RUNTIME_KEYS`` and ``RECORDED_KEYS``): those with
an effect on a running tiffin server, and those that only concern building an
image or a cloud deployment, kept so they can be read back and shown by the
banner of ``tiffin serve``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyAddress,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    model_validator,
)

from tiffin.exceptions import BentoMLConfigException

DEFAULT_TIMEOUT = 60.0
DEFAULT_THREADS = 32
# Paths BentoML leaves out of its access log by default (its default_configuration.yaml).
DEFAULT_ACCESS_LOG_SKIP = ("/metrics", "/healthz", "/livez", "/readyz")

StrOrList = str | list[str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Traffic(_Strict):
    timeout: PositiveFloat = DEFAULT_TIMEOUT
    max_concurrency: PositiveInt | None = None
    max_body_size: PositiveInt | None = None  # tiffin's own key
    # BentoCloud's autoscaling target and its request queue: recorded, no effect here.
    concurrency: PositiveInt | None = None
    external_queue: bool | None = None


class Resources(_Strict):
    cpu: str | PositiveInt | PositiveFloat | None = None
    memory: str | PositiveInt | PositiveFloat | None = None
    gpu: PositiveFloat | None = None
    # A hint for choosing a cloud instance; BentoML checks it against a list that
    # grows with each release, tiffin takes any name.
    gpu_type: str | None = None
    tpu_type: str | None = None

    def cpu_count(self) -> int | None:
        """The CPU request as a whole number of workers ("2" -> 2, "500m" -> 1)."""
        if self.cpu is None:
            return None
        text = str(self.cpu).strip()
        cores = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
        return max(1, int(cores))


class MetricDuration(_Strict):
    buckets: list[PositiveFloat] | None = None
    min: PositiveFloat | None = None
    max: PositiveFloat | None = None
    factor: Annotated[float, Field(gt=1.0)] | None = None

    def histogram_buckets(self) -> tuple[float, ...] | None:
        """The duration histogram's buckets as BentoML derives them; None: prometheus' default.

        ``min``, ``max`` and ``factor`` together give exponential buckets
        (``min``, ``min*factor``, ... below ``max``, then ``max``); else ``buckets``.
        """
        if self.min is not None and self.max is not None and self.factor is not None:
            bounds, bound = [], self.min
            while bound < self.max:
                bounds.append(bound)
                bound *= self.factor
            return (*bounds[:100], self.max, float("inf"))
        if self.buckets:
            return (*sorted(self.buckets), float("inf"))
        return None


class Metrics(_Strict):
    enabled: bool = True
    namespace: str = Field(default="bentoml_service", pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    duration: MetricDuration = MetricDuration()


class AccessLogFormat(_Strict):
    trace_id: str | None = None
    span_id: str | None = None


class AccessLogging(_Strict):
    enabled: bool = True
    skip_paths: list[str] = list(DEFAULT_ACCESS_LOG_SKIP)
    request_content_length: bool | None = None
    request_content_type: bool | None = None
    response_content_length: bool | None = None
    response_content_type: bool | None = None
    format: AccessLogFormat = AccessLogFormat()


class Logging(_Strict):
    access: AccessLogging = AccessLogging()


class SSL(_Strict):
    enabled: bool = False
    certfile: str | None = None
    keyfile: str | None = None
    keyfile_password: str | None = None
    ca_certs: str | None = None
    version: PositiveInt | None = None
    cert_reqs: int | None = None
    ciphers: str | None = None


class CORS(_Strict):
    enabled: bool = False
    access_control_allow_origins: StrOrList | None = None
    access_control_allow_credentials: bool | None = None
    access_control_allow_methods: StrOrList | None = None
    access_control_allow_headers: StrOrList | None = None
    access_control_allow_origin_regex: str | None = None
    access_control_max_age: int | None = None
    access_control_expose_headers: StrOrList | None = None

    @model_validator(mode="after")
    def _origins_when_enabled(self) -> CORS:
        # BentoML asserts the same when it builds the app; here it fails at definition.
        if self.enabled and not (
            self.access_control_allow_origins or self.access_control_allow_origin_regex
        ):
            raise ValueError(
                "cors is enabled but allows no origin: set access_control_allow_origins "
                "(or access_control_allow_origin_regex)"
            )
        return self

    def middleware_options(self) -> dict[str, Any]:
        """The keyword arguments of Starlette's ``CORSMiddleware``, as BentoML maps them."""
        names = {
            "allow_origins": self.access_control_allow_origins,
            "allow_origin_regex": self.access_control_allow_origin_regex,
            "allow_credentials": self.access_control_allow_credentials,
            "allow_methods": self.access_control_allow_methods,
            "allow_headers": self.access_control_allow_headers,
            "max_age": self.access_control_max_age,
            "expose_headers": self.access_control_expose_headers,
        }
        # A lone string is one value (BentoML leaves some as strings, which Starlette
        # would read letter by letter).
        return {
            key: [value] if isinstance(value, str) and key != "allow_origin_regex" else value
            for key, value in names.items()
            if value is not None
        }


class HTTPResponse(_Strict):
    trace_id: bool | None = None


class HTTP(_Strict):
    host: IPvAnyAddress | None = None
    port: int | None = None
    proxy_port: int | None = None
    cors: CORS = CORS()
    response: HTTPResponse = HTTPResponse()


class HostPort(_Strict):
    host: IPvAnyAddress
    port: PositiveInt


class Enabled(_Strict):
    enabled: bool


class GRPC(_Strict):
    host: IPvAnyAddress | None = None
    port: PositiveInt | None = None
    max_concurrent_streams: int | None = None
    maximum_concurrent_rpcs: int | None = None
    metrics: HostPort | None = None
    reflection: Enabled | None = None
    channelz: Enabled | None = None
    max_message_length: int | None = None


class RunnerProbe(_Strict):
    enabled: bool | None = None
    timeout: PositiveInt | None = None
    period: PositiveInt | None = None


class Monitoring(_Strict):
    enabled: bool | None = None
    type: str | None = None
    options: dict[str, Any] | None = None


class Zipkin(_Strict):
    endpoint: str | None = None
    local_node_ipv4: IPvAnyAddress | int | None = None
    local_node_ipv6: IPvAnyAddress | int | None = None
    local_node_port: PositiveInt | None = None


class JaegerGRPC(_Strict):
    insecure: bool | None = None


class JaegerThrift(_Strict):
    agent_host_name: str | None = None
    agent_port: PositiveInt | None = None
    udp_split_oversized_batches: bool | None = None


class Jaeger(_Strict):
    protocol: Literal["grpc", "thrift"] | None = None
    collector_endpoint: str | None = None
    grpc: JaegerGRPC | None = None
    thrift: JaegerThrift | None = None


class OTLPHTTP(_Strict):
    headers: dict[str, str] | None = None
    certificate_file: str | None = None


class OTLPGRPC(_Strict):
    insecure: bool | None = None
    headers: list[list[str]] | None = None


class OTLP(_Strict):
    protocol: Literal["grpc", "http"] | None = None
    endpoint: str | None = None
    compression: Literal["gzip", "none", "deflate"] | None = None
    http: OTLPHTTP | None = None
    grpc: OTLPGRPC | None = None


class Tracing(_Strict):
    exporter_type: Literal["zipkin", "jaeger", "otlp", "in_memory"] | None = None
    sample_rate: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    timeout: PositiveInt | None = None
    max_tag_value_length: PositiveInt | None = None
    excluded_urls: StrOrList | None = None
    zipkin: Zipkin | None = None
    jaeger: Jaeger | None = None
    otlp: OTLP | None = None


class RunnerConnection(_Strict):
    max_requests: PositiveInt | None = None
    max_age: PositiveFloat | None = None


class Endpoints(_Strict):
    """Where the probes are served (BentoML tells its clients and BentoCloud these paths)."""

    livez: str | None = None
    readyz: str | None = None


class EnvVar(_Strict):
    name: str
    value: str = ""
    stage: Literal["all", "build", "runtime"] = "all"


# The keys of BentoML's ServiceConfig TypedDict, in its order, with their models.
GROUPS: dict[str, type[_Strict]] = {
    "traffic": Traffic,
    "runner_connection": RunnerConnection,
    "resources": Resources,
    "metrics": Metrics,
    "logging": Logging,
    "ssl": SSL,
    "http": HTTP,
    "grpc": GRPC,
    "runner_probe": RunnerProbe,
    "tracing": Tracing,
    "monitoring": Monitoring,
    "endpoints": Endpoints,
}
SCALARS = (
    "extra_ports",
    "backlog",
    "max_runner_connections",
    "workers",
    "replicate_process",
    "threads",
)
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


class ServiceConfig(_Strict):
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
    envs: list[EnvVar] = []
    labels: dict[str, str] = {}
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


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key, inner in value.items():
            yield from _flatten(f"{prefix}.{key}", inner)
    else:
        yield prefix, value


_Group = TypeVar("_Group", bound=_Strict)


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
