"""The conformance suite: checks with stable IDs that pin the contract down.

Run them against tiffin and other implementations across frameworks and
transports (``pytest conformance/``), or against your own service: subclass
``ConformanceSuite``, decorate a test with ``conformance_cases(MyService)``, or run
``tiffin conformance module:MyService``. Every run writes a grid (Markdown and JSON).
"""

from __future__ import annotations

from tiffin.conformance.cases import Case, Column, NotApplicable, Outcome, outcome_of
from tiffin.conformance.implementations import Difference, Implementation, TiffinImplementation
from tiffin.conformance.registry import CHECKS, Check, CheckFailed, all_checks
from tiffin.conformance.spec import FRAMEWORKS, TRANSPORTS, ServiceSpec

__all__ = [
    "CHECKS",
    "FRAMEWORKS",
    "TRANSPORTS",
    "Case",
    "Check",
    "CheckFailed",
    "Column",
    "ConformanceSuite",
    "Difference",
    "Implementation",
    "NotApplicable",
    "Outcome",
    "ServiceSpec",
    "TiffinImplementation",
    "all_checks",
    "conformance_cases",
    "outcome_of",
]


def __getattr__(name: str) -> object:
    # The pytest helpers import pytest: only when asked for.
    if name in ("ConformanceSuite", "conformance_cases"):
        from tiffin.conformance import pytest_support

        return getattr(pytest_support, name)
    raise AttributeError(f"module 'tiffin.conformance' has no attribute {name!r}")
