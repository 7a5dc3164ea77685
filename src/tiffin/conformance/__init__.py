"""The conformance suite: checks with stable IDs that pin the contract down.

Run them against tiffin and other implementations across frameworks and
transports (``pytest conformance/``), or against your own service: subclass
``ConformanceSuite``, decorate a test with ``conformance_cases(MyService)``, or run
``tiffin conformance module:MyService``. Every run writes a grid (Markdown and JSON).

The public names: the two pytest entry points, the checks (``all_checks()``, each a
``Check``; a failing one raises ``CheckFailed``), and what an adapter for another
implementation subclasses and declares (``Implementation``, ``Difference``). The
submodules are for the suite's own runs (and are imported by their full names).
"""

# No `from __future__ import annotations`: it would be one more public name here.

from tiffin.conformance.implementations import Difference, Implementation
from tiffin.conformance.registry import Check, CheckFailed, all_checks

# The submodules imported above are attributes of the package now; only the names of
# ``__all__`` are its surface (tests/conformance/test_exported_members.py pins it).
for _module in ("facts", "implementations", "registry", "spec"):
    globals().pop(_module, None)
del _module

__all__ = [
    "Check",
    "CheckFailed",
    "ConformanceSuite",
    "Difference",
    "Implementation",
    "all_checks",
    "conformance_cases",
]


def __getattr__(name: str) -> object:
    # The pytest helpers import pytest: only when asked for.
    if name in ("ConformanceSuite", "conformance_cases"):
        from tiffin.conformance import pytest_support

        return getattr(pytest_support, name)
    raise AttributeError(f"module 'tiffin.conformance' has no attribute {name!r}")
