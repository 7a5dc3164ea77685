"""Per-test overrides of a service: class attributes and FastAPI ``dependency_overrides``.

Applied before the app is composed and restored afterwards, whatever happened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tiffin.service import Service

_MISSING = object()


class ServiceOverrides:
    def __init__(
        self,
        service: Service[Any],
        attributes: dict[str, Any],
        dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] | None,
    ) -> None:
        self.service = service
        self.attributes = attributes
        self.dependency_overrides = dependency_overrides or {}
        self._saved_attributes: dict[str, Any] = {}
        self._saved_dependencies: list[tuple[Any, dict[Any, Any]]] = []

    def apply(self) -> None:
        inner = self.service.inner
        for name, value in self.attributes.items():
            if not hasattr(inner, name):
                raise TypeError(
                    f"tiffin: service {self.service.name!r} has no attribute {name!r} to "
                    "override; overrides set existing class attributes (harness options are "
                    "traffic=, dependency_overrides=, streaming=, transport=, base_url=)"
                )
            self._saved_attributes[name] = inner.__dict__.get(name, _MISSING)
            setattr(inner, name, value)
        if not self.dependency_overrides:
            return
        seen: set[int] = set()
        for mount in self.service.mounts:
            table = getattr(mount.app, "dependency_overrides", None)
            if not isinstance(table, dict) or id(table) in seen:
                continue
            seen.add(id(table))
            self._saved_dependencies.append((table, dict(table)))
            table.update(self.dependency_overrides)
        if not self._saved_dependencies:
            self.restore()
            raise TypeError(
                f"tiffin: dependency_overrides were given, but service {self.service.name!r} "
                "mounts no FastAPI app"
            )

    def restore(self) -> None:
        inner = self.service.inner
        for name, old in self._saved_attributes.items():
            if old is _MISSING:
                delattr(inner, name)  # it was inherited: uncover the base class's value
            else:
                setattr(inner, name, old)
        self._saved_attributes.clear()
        for table, old_table in self._saved_dependencies:
            table.clear()
            table.update(old_table)
        self._saved_dependencies.clear()
