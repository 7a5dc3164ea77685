"""The options of ``@tiffin.service``, checked when the class is decorated.

Each group is a pydantic model that forbids unknown keys, so a typo such as
``traffic={"timout": 5}`` fails at definition time with the service, the key
and the keys that are allowed.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, ValidationError

from tiffin.exceptions import BentoMLConfigException

DEFAULT_TIMEOUT = 60.0
DEFAULT_THREADS = 32


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Traffic(_Strict):
    timeout: PositiveFloat = DEFAULT_TIMEOUT
    max_concurrency: PositiveInt | None = None
    max_body_size: PositiveInt | None = None


class Resources(_Strict):
    cpu: str | int | float | None = None
    memory: str | int | None = None
    gpu: int | float | None = None
    gpu_type: str | None = None

    def cpu_count(self) -> int | None:
        """The CPU request as a whole number of workers ("2" -> 2, "500m" -> 1)."""
        if self.cpu is None:
            return None
        text = str(self.cpu).strip()
        cores = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
        return max(1, int(cores))


class Metrics(_Strict):
    enabled: bool = True
    namespace: str = Field(default="bentoml_service", pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


class ServiceConfig(_Strict):
    name: str
    resources: Resources = Resources()
    traffic: Traffic = Traffic()
    metrics: Metrics = Metrics()
    path_prefix: str = ""
    workers: PositiveInt | None = None
    threads: PositiveInt = DEFAULT_THREADS


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


def _describe(service: str, group: str, model: type[BaseModel], exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            known = ", ".join(model.model_fields)
            problems.append(f"unknown key {key!r} (known keys: {known})")
        else:
            problems.append(f"key {key!r}: {error['msg']} (got {error['input']!r})")
    return f"service {service!r}: invalid {group}: " + "; ".join(problems)


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
