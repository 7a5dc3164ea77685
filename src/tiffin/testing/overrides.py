"""Per-test overrides of a service, applied to the app of one run and to nothing else.

- **Class attributes** (``ServiceClient(Svc, greeting="Hi")``): a tiffin service runs
  a per-run copy of its definition whose class is a subclass of the user's class
  carrying the new values (``service_for_run``). The user's class is never changed,
  so another test, or a shared service already running, still sees its own values.
  ``name=`` names that copy's service when the class has no ``name`` attribute.
- **``dependency_overrides``**: FastAPI keeps them on the app object, which every
  composed app of a service shares. Each mounted FastAPI app gets, once, a
  ``ScopedOverrides`` table holding its own overrides unchanged, whose look-ups
  first consult the overrides of the run serving the current request (a context
  variable set by ``with_dependency_overrides`` around that run's app). So they
  reach that run's requests only, in-process and live.
- A BentoML service composes its own app from its class, so its attributes are set
  on the class for the run and restored afterwards (``patched_attributes``). That
  cannot leak into another running service: BentoML 1.4 runs one service per
  process at a time (``BentoMLProcessState``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from tiffin.service import Service
from tiffin.testing.failures import HarnessUsageError

Overrides = Mapping[Callable[..., Any], Callable[..., Any]]

_MISSING = object()
_NONE: Overrides = {}
_ACTIVE: contextvars.ContextVar[Overrides] = contextvars.ContextVar(
    "tiffin_dependency_overrides", default=_NONE
)


def unknown_attribute(service_name: str, name: str) -> HarnessUsageError:
    return HarnessUsageError(
        f"tiffin: service {service_name!r} has no attribute {name!r} to override; "
        "overrides set existing class attributes (harness options are traffic=, "
        "dependency_overrides=, streaming=, transport=, base_url=)"
    )


def service_for_run(service: Service[Any], attributes: Mapping[str, Any]) -> Service[Any]:
    """``service`` itself, or a copy whose class carries ``attributes`` (the class is untouched)."""
    if not attributes:
        return service
    inner = service.inner
    class_values: dict[str, Any] = {}
    config = service.config
    for name, value in attributes.items():
        if hasattr(inner, name):
            class_values[name] = value
        elif name == "name":
            config = config.model_copy(update={"name": value})
        else:
            raise unknown_attribute(service.name, name)
    namespace = {
        "__module__": inner.__module__,
        "__qualname__": inner.__qualname__,
        "__doc__": inner.__doc__,
    }
    copy: Service[Any] = object.__new__(type(service))
    copy.__dict__.update(vars(service))
    metaclass: Any = type(inner)  # the user's metaclass, if any, makes the subclass
    copy.inner = metaclass(inner.__name__, (inner,), {**namespace, **class_values})
    copy.config = config
    return copy


@contextmanager
def patched_attributes(
    inner: type, service_name: str, attributes: Mapping[str, Any]
) -> Iterator[None]:
    """Set class attributes for the block and restore them after (BentoML services)."""
    for name in attributes:
        if not hasattr(inner, name):
            raise unknown_attribute(service_name, name)
    saved = {name: inner.__dict__.get(name, _MISSING) for name in attributes}
    try:
        for name, value in attributes.items():
            setattr(inner, name, value)
        yield
    finally:
        for name, old in saved.items():
            if old is _MISSING:
                delattr(inner, name)  # it was inherited: uncover the base class's value
            else:
                setattr(inner, name, old)


class ScopedOverrides(dict[Any, Any]):
    """A FastAPI app's ``dependency_overrides``, plus those of the run serving this request.

    Reads as a plain dict of the app's own overrides outside a harness run, so the
    user's ``app.dependency_overrides[dep] = fake`` keeps working.
    """

    def get(self, key: Any, default: Any = None) -> Any:
        layer = _ACTIVE.get()
        if key in layer:
            return layer[key]
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        layer = _ACTIVE.get()
        if key in layer:
            return layer[key]
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        return key in _ACTIVE.get() or super().__contains__(key)

    def __bool__(self) -> bool:  # FastAPI skips the look-up when the table is falsy
        return bool(_ACTIVE.get()) or len(self) > 0


def with_dependency_overrides(
    app: ASGIApp, mounted: Iterable[Any], overrides: Overrides, service_name: str
) -> ASGIApp:
    """``app`` serving every request with ``overrides`` on its mounted FastAPI apps."""
    if not overrides:
        return app
    tables = [
        mount for mount in mounted if isinstance(getattr(mount, "dependency_overrides", None), dict)
    ]
    if not tables:
        raise HarnessUsageError(
            f"tiffin: dependency_overrides were given, but service {service_name!r} "
            "mounts no FastAPI app"
        )
    for mount in tables:
        if not isinstance(mount.dependency_overrides, ScopedOverrides):
            mount.dependency_overrides = ScopedOverrides(mount.dependency_overrides)
    layer = dict(overrides)

    async def overridden(scope: Scope, receive: Receive, send: Send) -> None:
        token = _ACTIVE.set(layer)
        try:
            await app(scope, receive, send)
        finally:
            _ACTIVE.reset(token)

    return overridden
