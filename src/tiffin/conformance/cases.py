"""Cases: one check against one column of the grid.

A column is (implementation, framework or service, transport).

Whether a check applies is decided here, from declared capabilities, before
anything runs; a declared difference makes a case an expected failure.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tiffin.conformance.implementations import Difference, Implementation, implementations
from tiffin.conformance.registry import Check, all_checks
from tiffin.conformance.spec import (
    CAPABILITY_MEANING,
    FRAMEWORK_CAPABILITIES,
    FRAMEWORKS,
    TRANSPORTS,
    installed,
)
from tiffin.conformance.targets import CheckContext, ReferenceContext, ServiceContext


@dataclass(frozen=True)
class Column:
    implementation: str
    subject: str  # a framework for the reference service, else the user's service name
    transport: str

    @property
    def key(self) -> str:
        return f"{self.implementation}/{self.subject}/{self.transport}"


@dataclass(frozen=True)
class Case:
    check: Check
    column: Column
    context: Callable[[], CheckContext]
    difference: Difference | None = None
    grid_dir: str | None = None  # where a pytest run writes this case's grid

    @property
    def id(self) -> str:
        return f"{self.check.id}[{self.column.key}]"

    async def arun(self) -> None:
        await self.check.function(self.context())

    def run(self) -> None:
        """Run on a loop of its own: a check needs no loop from the caller."""
        asyncio.run(self.arun())


@dataclass(frozen=True)
class NotApplicable:
    check: Check
    column: Column
    missing: tuple[str, ...]
    grid_dir: str | None = None

    @property
    def reason(self) -> str:
        absent = [name.partition(":")[2] for name in self.missing if name.startswith("installed:")]
        if absent:
            return f"does not apply: {absent[0]} is not installed"
        # A check of the reference service's own routes: the other needs say nothing more.
        missing = ("reference",) if "reference" in self.missing else self.missing
        meanings = "; ".join(CAPABILITY_MEANING.get(name, name) for name in missing)
        return f"does not apply: needs {meanings}"


@dataclass(frozen=True)
class Outcome:
    check: Check
    column: Column
    status: str  # pass | fail | differs | n/a
    detail: str = ""


def grouped_by_reason(items: Iterable[NotApplicable]) -> dict[str, list[str]]:
    """The checks that do not apply, by reason, each check once whatever the columns."""
    grouped: dict[str, list[str]] = {}
    for item in items:
        ids = grouped.setdefault(item.reason, [])
        if item.check.id not in ids:
            ids.append(item.check.id)
    return grouped


def reference_cases(
    implementation_names: Iterable[str] | None = None,
    frameworks: Iterable[str] = FRAMEWORKS,
    transports: Iterable[str] = TRANSPORTS,
) -> tuple[list[Case], list[NotApplicable]]:
    """Every check against the reference service: implementation x framework x transport."""
    known = implementations()
    names = list(implementation_names or [n for n, i in known.items() if i.unavailable() is None])
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown implementation(s) {unknown}: tiffin knows {sorted(known)}")
    for name in names:
        reason = known[name].unavailable()
        if reason:
            raise RuntimeError(f"implementation {name!r} cannot run here: {reason}")
    cases: list[Case] = []
    skipped: list[NotApplicable] = []
    for name in names:
        implementation = known[name]
        for framework in frameworks:
            capabilities = FRAMEWORK_CAPABILITIES[framework] | {
                "reference",
                "apis",
                "mounts",
                "misses",
                "trusted_host",
            }
            for transport in transports:
                if transport not in implementation.transports:
                    continue  # no such column: BentoML serves with its own server
                column = Column(name, framework, transport)
                served = {"service_objects"} if implementation.serves_objects(transport) else set()
                # A framework or server not installed here: its whole column does not apply.
                absent = [f"installed:{n}" for n in (framework, transport) if not installed(n)]
                for check in all_checks():
                    missing = absent[:1] or check.missing(capabilities | served)
                    if missing:
                        skipped.append(NotApplicable(check, column, tuple(missing)))
                        continue
                    cases.append(
                        Case(
                            check,
                            column,
                            _reference_context(implementation, framework, transport),
                            implementation.difference(check.id, framework, transport),
                        )
                    )
    return cases, skipped


def service_cases(
    service: Any, transports: Iterable[str] = TRANSPORTS
) -> tuple[list[Case], list[NotApplicable]]:
    """Every check that applies to a user's own service, over each transport."""
    cases: list[Case] = []
    skipped: list[NotApplicable] = []
    for transport in transports:
        context = ServiceContext(service, transport)
        if transport not in context.implementation.transports:
            raise ValueError(
                f"{context.implementation.name} services run over "
                f"{', '.join(context.implementation.transports)}, not {transport!r}"
            )
        column = Column(context.implementation.name, service_label(service), transport)
        absent = [] if installed(transport) else [f"installed:{transport}"]
        for check in all_checks():
            missing = absent or check.missing(context.facts.capabilities)
            if missing:
                skipped.append(NotApplicable(check, column, tuple(missing)))
            else:
                cases.append(Case(check, column, _service_context(service, transport)))
    return cases, skipped


def service_label(service: Any) -> str:
    return str(
        getattr(service, "name", None) or getattr(service, "__name__", type(service).__name__)
    )


def _reference_context(
    implementation: Implementation, framework: str, transport: str
) -> Callable[[], CheckContext]:
    return lambda: ReferenceContext(implementation, framework, transport)


def _service_context(service: Any, transport: str) -> Callable[[], CheckContext]:
    return lambda: ServiceContext(service, transport)


def outcome_of(case: Case) -> Outcome:
    """Run a case outside pytest: what happened, with a declared difference taken into account."""
    try:
        case.run()
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else traceback.format_exc(limit=3)
        if case.difference is not None:
            return Outcome(case.check, case.column, "differs", case.difference.behaviour)
        return Outcome(case.check, case.column, "fail", detail)
    if case.difference is not None:
        return Outcome(
            case.check,
            case.column,
            "fail",
            f"declared difference no longer holds: {case.difference.behaviour}",
        )
    return Outcome(case.check, case.column, "pass")
