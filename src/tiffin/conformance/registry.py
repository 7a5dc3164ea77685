"""Checks: a stable ID, a one-line rule, the capabilities it needs, the coroutine checking it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tiffin.conformance.targets import CheckContext

CheckFunction = Callable[["CheckContext"], Awaitable[None]]

AREAS = {
    "PFX": "prefix routing",
    "INJ": "service injection",
    "MWO": "middleware ordering",
    "THR": "TrustedHost rejection",
    "TMO": "timeouts",
    "CON": "concurrency limits",
    "LIF": "lifespan",
    "INF": "infrastructure endpoints",
    "API": "API input and errors",
    "DEF": "errors when a service is defined",
    "DEP": "depends(): services composed",
    "MTH": "the __metrics__ hook",
    "CMD": "__command__: started, proxied to, stopped",
}


@dataclass(frozen=True)
class Check:
    id: str
    rule: str
    function: CheckFunction
    needs: frozenset[str]

    @property
    def area(self) -> str:
        return self.id.partition("-")[0]

    def missing(self, capabilities: Iterable[str]) -> list[str]:
        """The capabilities this check needs that a target lacks (empty: it applies)."""
        return sorted(self.needs - set(capabilities))


class CheckFailed(AssertionError):
    """A check's rule does not hold; the message says what was sent and what came back."""


CHECKS: dict[str, Check] = {}


def check(
    check_id: str, rule: str, *, needs: Iterable[str] = ()
) -> Callable[[CheckFunction], CheckFunction]:
    area = check_id.partition("-")[0]
    if area not in AREAS:
        raise ValueError(
            f"check {check_id!r}: unknown area {area!r}, expected one of {sorted(AREAS)}"
        )

    def register(function: CheckFunction) -> CheckFunction:
        if check_id in CHECKS:
            raise ValueError(f"check ID {check_id!r} is registered twice")
        CHECKS[check_id] = Check(check_id, rule, function, frozenset(needs))
        return function

    return register


def all_checks() -> list[Check]:
    """Every check, in ID order (importing the check modules registers them)."""
    import tiffin.conformance.checks  # noqa: F401

    return [CHECKS[key] for key in sorted(CHECKS)]
