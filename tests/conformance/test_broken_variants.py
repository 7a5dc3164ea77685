"""The suite can fail: deliberately broken variants of tiffin make the named checks fail.

Each variant is an implementation adapter that builds the reference service wrong in
one way; the checks about that rule fail, and the same checks pass on tiffin itself.
"""

from __future__ import annotations

import dataclasses
from types import ModuleType
from typing import Any

import pytest

import tiffin
from tiffin.conformance.cases import Case, Column, outcome_of
from tiffin.conformance.implementations import TiffinImplementation
from tiffin.conformance.registry import all_checks
from tiffin.conformance.spec import ServiceSpec
from tiffin.conformance.targets import ReferenceContext


class MiddlewareInWrongOrder(TiffinImplementation):
    name = "broken-order"

    def build(self, spec: ServiceSpec) -> Any:
        return super().build(spec.changed(middleware=tuple(reversed(spec.middleware))))


class MountDropsRootPath(TiffinImplementation):
    name = "broken-root-path"

    def build(self, spec: ServiceSpec) -> Any:
        service = super().build(spec)

        def dropping(app: Any) -> Any:
            async def without_root_path(scope: Any, receive: Any, send: Any) -> None:
                await app({**scope, "root_path": ""}, receive, send)

            return without_root_path

        service.mounts[:] = [dataclasses.replace(m, app=dropping(m.app)) for m in service.mounts]
        return service


class TimeoutNeverFires(TiffinImplementation):
    name = "broken-timeout"

    def build(self, spec: ServiceSpec) -> Any:
        return super().build(spec.changed(timeout=None))


class TrustedHostLetsEvilIn(TiffinImplementation):
    name = "broken-trusted-host"

    def build(self, spec: ServiceSpec) -> Any:
        hosts = spec.trusted_hosts
        return super().build(spec.changed(trusted_hosts=hosts and (*hosts, "evil.com")))


def module_with(**replaced: Any) -> ModuleType:
    """``tiffin`` with some names replaced, as a broken implementation's module."""
    module = ModuleType("broken_tiffin")
    module.__dict__.update({name: getattr(tiffin, name) for name in tiffin.__all__})
    module.__dict__.update(replaced)
    return module


def service_without(*attributes: str) -> Any:
    """A ``service`` decorator that drops ``attributes`` from the class (they are ignored)."""

    def service(inner: Any = None, /, **options: Any) -> Any:
        def decorate(cls: type) -> Any:
            for attribute in attributes:
                if attribute in vars(cls):
                    delattr(cls, attribute)
            return tiffin.service(**options)(cls)

        return decorate if inner is None else decorate(inner)

    return service


class PlainDependency:
    """A dependency that is a bare instance of the class: no lifecycle, no to_async."""

    def __init__(self, on: Any) -> None:
        self.on = on

    def __get__(self, instance: Any, owner: Any) -> Any:
        return self if instance is None else self.on.inner()


class DependsWithoutAGraph(TiffinImplementation):
    name = "broken-depends"

    def module(self) -> ModuleType:
        return module_with(depends=PlainDependency)


class MetricsHookIgnored(TiffinImplementation):
    name = "broken-metrics-hook"

    def module(self) -> ModuleType:
        return module_with(service=service_without("__metrics__"))


class CommandIgnored(TiffinImplementation):
    name = "broken-command"

    def module(self) -> ModuleType:
        return module_with(service=service_without("__command__"))


VARIANTS = [
    (MiddlewareInWrongOrder(), ["MWO-001", "MWO-002", "MWO-003", "MWO-006"]),
    (MountDropsRootPath(), ["PFX-002", "PFX-005", "PFX-008"]),
    (TimeoutNeverFires(), ["TMO-001", "TMO-003", "TMO-005", "MWO-008"]),
    (TrustedHostLetsEvilIn(), ["THR-003", "THR-004", "THR-005", "THR-007"]),
    (DependsWithoutAGraph(), ["DEP-001", "DEP-002"]),
    (MetricsHookIgnored(), ["MTH-001"]),
    (CommandIgnored(), ["CMD-001", "CMD-002"]),
]


def outcome(implementation: TiffinImplementation, check_id: str, framework: str) -> Any:
    check = next(c for c in all_checks() if c.id == check_id)
    column = Column(implementation.name, framework, "inprocess")

    def context() -> ReferenceContext:
        return ReferenceContext(implementation, framework, "inprocess")

    return outcome_of(Case(check, column, context))


@pytest.mark.parametrize(("variant", "checks"), VARIANTS, ids=[v.name for v, _ in VARIANTS])
@pytest.mark.parametrize("framework", ["fastapi", "asgi"])
def test_a_broken_variant_fails_the_named_checks(
    variant: TiffinImplementation, checks: list[str], framework: str
) -> None:
    broken = {check_id: outcome(variant, check_id, framework) for check_id in checks}
    failed = {check_id: o.status for check_id, o in broken.items()}
    assert failed == dict.fromkeys(checks, "fail")
    assert all(o.detail for o in broken.values()), "a failure says what went wrong"


@pytest.mark.parametrize("check_id", sorted({c for _, checks in VARIANTS for c in checks}))
def test_the_same_checks_pass_on_tiffin(check_id: str) -> None:
    assert outcome(TiffinImplementation(), check_id, "fastapi").status == "pass"
