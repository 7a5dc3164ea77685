"""`tiffin.conformance`'s public surface is pinned, as httpx pins its own."""

from __future__ import annotations

import types

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


def test_all_names_every_public_member() -> None:
    # The suite's own submodules (`tiffin.conformance.cases`...) become attributes as they
    # are imported; every other public name must be in __all__, and nothing more.
    members = {
        name
        for name, value in vars(tiffin.conformance).items()
        if name.isidentifier()  # pytest's assertion rewriting adds "@py_builtins"
        and not name.startswith("_")
        and not (
            isinstance(value, types.ModuleType) and value.__name__.startswith("tiffin.conformance.")
        )
    }
    assert sorted(members | LAZY) == PUBLIC_NAMES


def test_every_public_name_resolves() -> None:
    assert [name for name in PUBLIC_NAMES if not hasattr(tiffin.conformance, name)] == []


def test_implementations_are_built_once() -> None:
    first, second = adapters.implementations(), adapters.implementations()
    assert first == second and first is not second  # a copy, the adapters themselves shared
    assert all(first[name] is second[name] for name in first)
