"""`tiffin.conformance`'s public surface is pinned, as httpx pins its own."""

from __future__ import annotations

import subprocess
import sys

import tiffin.conformance
from tiffin.conformance import implementations as adapters

PUBLIC_NAMES = [
    "Check",
    "CheckFailed",
    "ConformanceSuite",
    "Difference",
    "Implementation",
    "all_checks",
    "conformance_cases",
]
LAZY = {"ConformanceSuite", "conformance_cases"}  # they import pytest: loaded when asked for


def test_all_is_pinned_and_sorted() -> None:
    assert tiffin.conformance.__all__ == PUBLIC_NAMES == sorted(PUBLIC_NAMES)


def test_the_package_exposes_exactly_all() -> None:
    # In a fresh interpreter: submodules imported later (tiffin.conformance.cases...) become
    # package attributes too. The two pytest entry points load when asked for.
    code = (
        "import tiffin.conformance as c; print(' '.join(sorted(n for n in vars(c) if n[0] != '_')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert sorted([*result.stdout.split(), *LAZY]) == PUBLIC_NAMES


def test_every_public_name_resolves() -> None:
    assert [name for name in PUBLIC_NAMES if not hasattr(tiffin.conformance, name)] == []


def test_implementations_are_built_once() -> None:
    first, second = adapters.implementations(), adapters.implementations()
    assert first == second and first is not second  # a copy, the adapters themselves shared
    assert all(first[name] is second[name] for name in first)
