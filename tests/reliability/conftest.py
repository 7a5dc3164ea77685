"""Servers shared by the reliability tests: each is started once for the package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.support import assert_serving
from tests.serving import ServedProcess, serving


@pytest.fixture(scope="package")
def faults_server() -> Iterator[ServedProcess]:
    """``services/faults.py`` under ``tiffin serve``; alive after everything it was sent."""
    with serving("tests.reliability.services.faults:Faults") as served:
        yield served
        assert_serving(served)
