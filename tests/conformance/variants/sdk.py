"""Broken variants of the rest of the service SDK: depends(), __metrics__, __command__."""

from __future__ import annotations

from typing import Any

import tiffin
from tests.conformance.variants.tools import Broken, module_with


class _PlainDependency:
    """``depends()`` gone wrong: a bare instance of the class, no lifecycle, no to_async."""

    def __init__(self, on: Any) -> None:
        self.on = on

    def __get__(self, instance: Any, owner: Any) -> Any:
        return self if instance is None else self.on.inner()


def _service_without(*attributes: str) -> Any:
    """A ``service`` decorator that ignores ``attributes`` of the class."""

    def service(inner: Any = None, /, **options: Any) -> Any:
        def decorate(cls: type) -> Any:
            for attribute in attributes:
                if attribute in vars(cls):
                    delattr(cls, attribute)
            return tiffin.service(**options)(cls)

        return decorate if inner is None else decorate(inner)

    return service


SDK = [
    Broken(
        "depends-without-a-graph",
        "a dependency is a bare instance: its hooks never run, it has no to_async",
        ("DEP-001", "DEP-002"),
        module=module_with(depends=_PlainDependency),
    ),
    Broken(
        "metrics-hook-ignored",
        "__metrics__ is never called",
        ("MTH-001",),
        module=module_with(service=_service_without("__metrics__")),
    ),
    Broken(
        "command-ignored",
        "__command__ is never started, nothing is proxied",
        ("CMD-001", "CMD-002"),
        module=module_with(service=_service_without("__command__")),
    ),
]
