"""The project's conformance run: every check, against each installed implementation's
reference service, on every framework and both transports. Writes GRID.md beside this file.

Which cells do not apply is decided from the frameworks' declared capabilities at
collection (they are listed in the grid, never skipped); an implementation's declared
differences are strict expected failures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tiffin.conformance.cases import Case, reference_cases
from tiffin.conformance.pytest_support import case_params

HERE = Path(__file__).parent
CASES, NOT_APPLICABLE = reference_cases()


@pytest.mark.parametrize("case", case_params(CASES, NOT_APPLICABLE, grid_dir=HERE))
def test_reference_service(case: Case) -> None:
    case.run()
