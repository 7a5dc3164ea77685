"""Mounted ASGI apps: path normalisation, the decorator, and the mount table.

A mount path matches at segment boundaries only: ``/v1`` serves ``/v1`` and
``/v1/...``, never ``/v10``. Lookup walks the request path's own prefixes from
the longest down, so it costs one dict lookup per path segment however many
apps are mounted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from tiffin.exceptions import BentoMLConfigException
from tiffin.frameworks import framework_name

if TYPE_CHECKING:
    from starlette.types import ASGIApp

PENDING_MOUNTS = "__tiffin_mounts__"

_Target = TypeVar("_Target")


@dataclass(frozen=True)
class Mount:
    app: ASGIApp
    path: str
    name: str
    framework: str


def normalize_mount_path(path: Any, *, where: str) -> str:
    """``"v1"`` and ``"/v1/"`` -> ``"/v1"``; ``""`` and ``None`` -> ``"/"``."""
    if path is None:
        return "/"
    if not isinstance(path, str):
        raise BentoMLConfigException(
            f"{where}: mount path must be a string such as '/v1', got {type(path).__name__} "
            f"{path!r}"
        )
    stripped = path.strip("/")
    if any(not segment for segment in stripped.split("/")) and stripped:
        raise BentoMLConfigException(f"{where}: mount path {path!r} has an empty segment")
    return f"/{stripped}"


def make_mount(app: Any, path: Any, name: str | None, *, where: str) -> Mount:
    if not callable(app):
        raise BentoMLConfigException(
            f"{where}: mount_asgi_app() needs an ASGI app (a FastAPI, Quart or Starlette app, or "
            f"an async callable taking scope, receive, send), got {type(app).__name__}"
        )
    if name is not None and not isinstance(name, str):
        raise BentoMLConfigException(f"{where}: mount name must be a string, got {name!r}")
    normalized = normalize_mount_path(path, where=where)
    return Mount(app=app, path=normalized, name=name or normalized, framework=framework_name(app))


def add_mount(mounts: list[Mount], mount: Mount, *, service_name: str) -> None:
    for existing in mounts:
        if existing.path == mount.path:
            raise BentoMLConfigException(
                f"mount path {mount.path!r} is used twice on service {service_name!r}; "
                "give each mounted app its own path"
            )
    mounts.append(mount)


def mount_asgi_app(
    app: ASGIApp, *, path: str = "/", name: str | None = None
) -> Callable[[_Target], _Target]:
    """Mount ``app`` under ``path`` on the decorated service (above or below ``@service``)."""

    def decorator(target: _Target) -> _Target:
        from tiffin.service import Service

        if isinstance(target, Service):
            target.mount_asgi_app(app, path=path, name=name)
            return target
        if not isinstance(target, type):
            raise BentoMLConfigException(
                f"@mount_asgi_app decorates a service class, got {type(target).__name__}"
            )
        where = f"service {target.__name__!r}"
        mount = make_mount(app, path, name, where=where)
        pending: list[Mount] = list(target.__dict__.get(PENDING_MOUNTS, ()))
        add_mount(pending, mount, service_name=target.__name__)
        setattr(target, PENDING_MOUNTS, pending)
        return target

    return decorator


class MountTable:
    """Mounted apps keyed by path; ``find`` returns the longest mount that owns a path."""

    def __init__(self, mounts: Iterable[Mount]) -> None:
        self._by_path = {mount.path: mount for mount in mounts}
        self.root = self._by_path.get("/")

    def __bool__(self) -> bool:
        return bool(self._by_path)

    def find(self, path: str) -> Mount | None:
        candidate = path.rstrip("/")
        while candidate:
            mount = self._by_path.get(candidate)
            if mount is not None:
                return mount
            candidate = candidate[: candidate.rfind("/")]
        return self.root
