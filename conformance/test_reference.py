"""The project's conformance run: every check, against each installed implementation's
reference service, on every framework and both transports. Writes GRID.md beside this file.

The server columns (tiffin served by Hypercorn and Granian) run where asked:
``TIFFIN_CONFORMANCE_TRANSPORTS=hypercorn,granian pytest conformance`` (tox's
``servers`` environments); by default, in-process and uvicorn's socket.
``TIFFIN_CONFORMANCE_IMPLEMENTATIONS=bentoml`` runs one implementation's columns.

Which cells do not apply is decided from the frameworks' declared capabilities at
collection (they are listed in the grid, never skipped); an implementation's declared
differences are strict expected failures.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tiffin.conformance.cases import Case, reference_cases
from tiffin.conformance.pytest_support import case_params

HERE = Path(__file__).parent
TRANSPORTS = os.environ.get("TIFFIN_CONFORMANCE_TRANSPORTS", "inprocess,socket").split(",")
# Every installed implementation by default; tox's bentoml environment names only BentoML
# (the README's test command has already run tiffin's columns).
IMPLEMENTATIONS = os.environ.get("TIFFIN_CONFORMANCE_IMPLEMENTATIONS") or None
CASES, NOT_APPLICABLE = reference_cases(
    IMPLEMENTATIONS.split(",") if IMPLEMENTATIONS else None, transports=TRANSPORTS
)


@pytest.mark.parametrize("case", case_params(CASES, NOT_APPLICABLE, grid_dir=HERE))
def test_reference_service(case: Case) -> None:
    case.run()
