"""Where BentoML is installed (`tox -e bentoml`), its own deprecation warnings are not ours.

The repository's pytest configuration turns warnings into errors; BentoML 1.4.40
emits some itself, so they are ignored by their exact text, and only there.
"""

from __future__ import annotations

import importlib.util

import pytest

from tiffin.testing.bentoml import BENTOML_WARNINGS
from tiffin.testing.ray import RAY_WARNINGS

# BentoML's in-process app leaves the anyio streams of requests the timeout cut short
# for the garbage collector, which may run during any later test.
BENTOML_LEFTOVERS = (
    "ignore:Exception ignored in. <function MemoryObject(Send|Receive)Stream.__del__"
    ":pytest.PytestUnraisableExceptionWarning"
)


def pytest_configure(config: pytest.Config) -> None:
    if importlib.util.find_spec("bentoml") is not None:
        for line in (*BENTOML_WARNINGS, BENTOML_LEFTOVERS):
            config.addinivalue_line("filterwarnings", line)
    if importlib.util.find_spec("ray") is not None:  # the tiffin-ray columns (tox -e py311-ray)
        for line in RAY_WARNINGS:
            config.addinivalue_line("filterwarnings", line)
