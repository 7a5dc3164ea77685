"""The groups of BentoML 1.4's service configuration schema, as pydantic models.

One model per group of ``_bentoml_sdk/service/config.py`` (checked against
BentoML 1.4.40), each forbidding unknown keys; ``GROUPS`` maps the top-level
keys to them. tiffin's own additions are marked.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyAddress,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

DEFAULT_TIMEOUT = 60.0
DEFAULT_THREADS = 32
# Paths BentoML leaves out of its access log by default (its default_configuration.yaml).
DEFAULT_ACCESS_LOG_SKIP = ("/metrics", "/healthz", "/livez", "/readyz")

StrOrList = str | list[str]


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Traffic(Group):
    timeout: PositiveFloat = DEFAULT_TIMEOUT
    max_concurrency: PositiveInt | None = None
    max_body_size: PositiveInt | None = None  # tiffin's own key
    # BentoCloud's autoscaling target and its request queue: recorded, no effect here.
    concurrency: PositiveInt | None = None
    external_queue: bool | None = None


class Resources(Group):
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


class MetricDuration(Group):
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


class Metrics(Group):
    enabled: bool = True
    namespace: str = Field(default="bentoml_service", pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    duration: MetricDuration = MetricDuration()


class AccessLogFormat(Group):
    trace_id: str | None = None
    span_id: str | None = None


class AccessLogging(Group):
    enabled: bool = True
    skip_paths: list[str] = list(DEFAULT_ACCESS_LOG_SKIP)
    request_content_length: bool | None = None
    request_content_type: bool | None = None
    response_content_length: bool | None = None
    response_content_type: bool | None = None
    format: AccessLogFormat = AccessLogFormat()


class Logging(Group):
    access: AccessLogging = AccessLogging()


class SSL(Group):
    enabled: bool = False
    certfile: str | None = None
    keyfile: str | None = None
    keyfile_password: str | None = None
    ca_certs: str | None = None
    version: PositiveInt | None = None
    cert_reqs: int | None = None
    ciphers: str | None = None


class CORS(Group):
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


class HTTPResponse(Group):
    trace_id: bool | None = None


class HTTP(Group):
    host: IPvAnyAddress | None = None
    port: int | None = None
    proxy_port: int | None = None
    cors: CORS = CORS()
    response: HTTPResponse = HTTPResponse()


class HostPort(Group):
    host: IPvAnyAddress
    port: PositiveInt


class Enabled(Group):
    enabled: bool


class GRPC(Group):
    host: IPvAnyAddress | None = None
    port: PositiveInt | None = None
    max_concurrent_streams: int | None = None
    maximum_concurrent_rpcs: int | None = None
    metrics: HostPort | None = None
    reflection: Enabled | None = None
    channelz: Enabled | None = None
    max_message_length: int | None = None


class RunnerProbe(Group):
    enabled: bool | None = None
    timeout: PositiveInt | None = None
    period: PositiveInt | None = None


class Monitoring(Group):
    enabled: bool | None = None
    type: str | None = None
    options: dict[str, Any] | None = None


class Zipkin(Group):
    endpoint: str | None = None
    local_node_ipv4: IPvAnyAddress | int | None = None
    local_node_ipv6: IPvAnyAddress | int | None = None
    local_node_port: PositiveInt | None = None


class JaegerGRPC(Group):
    insecure: bool | None = None


class JaegerThrift(Group):
    agent_host_name: str | None = None
    agent_port: PositiveInt | None = None
    udp_split_oversized_batches: bool | None = None


class Jaeger(Group):
    protocol: Literal["grpc", "thrift"] | None = None
    collector_endpoint: str | None = None
    grpc: JaegerGRPC | None = None
    thrift: JaegerThrift | None = None


class OTLPHTTP(Group):
    headers: dict[str, str] | None = None
    certificate_file: str | None = None


class OTLPGRPC(Group):
    insecure: bool | None = None
    headers: list[list[str]] | None = None


class OTLP(Group):
    protocol: Literal["grpc", "http"] | None = None
    endpoint: str | None = None
    compression: Literal["gzip", "none", "deflate"] | None = None
    http: OTLPHTTP | None = None
    grpc: OTLPGRPC | None = None


class Tracing(Group):
    exporter_type: Literal["zipkin", "jaeger", "otlp", "in_memory"] | None = None
    sample_rate: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    timeout: PositiveInt | None = None
    max_tag_value_length: PositiveInt | None = None
    excluded_urls: StrOrList | None = None
    zipkin: Zipkin | None = None
    jaeger: Jaeger | None = None
    otlp: OTLP | None = None


class RunnerConnection(Group):
    max_requests: PositiveInt | None = None
    max_age: PositiveFloat | None = None


class Endpoints(Group):
    """Where the probes are served (BentoML tells its clients and BentoCloud these paths)."""

    livez: str | None = None
    readyz: str | None = None


class EnvVar(Group):
    name: str
    value: str = ""
    stage: Literal["all", "build", "runtime"] = "all"


# The keys of BentoML's ServiceConfig TypedDict, in its order, with their models.
GROUPS: dict[str, type[Group]] = {
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
