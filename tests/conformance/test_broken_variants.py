"""The suite can fail: deliberately broken variants of tiffin make the named checks fail.

Each variant is an implementation adapter that builds the reference service wrong in
one way; the checks about that rule fail, and the same checks pass on tiffin itself.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

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


VARIANTS = [
    (MiddlewareInWrongOrder(), ["MWO-001", "MWO-002", "MWO-003", "MWO-006"]),
    (MountDropsRootPath(), ["PFX-002", "PFX-005", "PFX-008"]),
    (TimeoutNeverFires(), ["TMO-001", "TMO-003", "TMO-005", "MWO-008"]),
    (TrustedHostLetsEvilIn(), ["THR-003", "THR-004", "THR-005", "THR-007"]),
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
