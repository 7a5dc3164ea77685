"""A pytest plugin for tox's framework environments, where one framework is installed alone.

Loaded with ``-p framework_alone`` (tox puts this folder on PYTHONPATH). A test module
or test that imports a framework this environment does not have does not apply here:
it is reported as skipped with that reason, never as an error. An import of an absent
framework made by tiffin's own code is not excused: it stays the error it is, since
tiffin must never import a framework the user did not install.

Tests that need a framework without importing it themselves (they serve an example
or a seed block in a subprocess) are named in ``NEEDS``; a new one shows up as a
failure in these environments, and belongs there.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Generator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

import tiffin

FRAMEWORKS = ("fastapi", "quart", "starlette")
TIFFIN_SOURCE = Path(tiffin.__file__).resolve().parent


# Test IDs (or their beginnings) -> the frameworks they need (space-separated), imported
# in a subprocess.
NEEDS = {
    "tests/test_seed_served.py::test_fastapi_blocks": "fastapi",
    "tests/test_seed_served.py::test_quart_blocks": "quart",
    "tests/test_seed_served.py::test_summarize_uses_the_example_input_by_default[summarization_"
    "fastapi": "fastapi",
    "tests/test_seed_served.py::test_summarize_uses_the_example_input_by_default[summarization_"
    "quart": "quart",
    "tests/reliability/test_schemathesis.py": "fastapi",
    "tests/reliability/test_secrets.py": "fastapi quart",  # the faults service mounts both
    "tests/test_benchmarks_smoke.py": "fastapi",
    "tests/test_cli.py::test_the_banner_shows_service_mounts_routes_and_docs": "fastapi",
    "tests/test_cli.py::test_the_readme_main_command_serves_what_the_readme_shows": "fastapi",
    "tests/test_docs_browser.py": "fastapi",
    "tests/test_serving.py::test_serves_the_fastapi_example_over_a_socket": "fastapi",
    "examples/conformance_user/test_command_line.py": "fastapi",
    # pytester runs whose test files import the FastAPI sample services
    "tests/testing/test_live.py": "fastapi",
    "tests/testing/test_readme.py": "fastapi",  # the README's testing examples mount FastAPI
}


def absent() -> set[str]:
    return {name for name in FRAMEWORKS if importlib.util.find_spec(name) is None}


def not_applicable(error: BaseException | None) -> str | None:
    """The reason to skip, when ``error`` is a test's own import of an absent framework."""
    if not isinstance(error, ModuleNotFoundError) or error.name is None:
        return None
    framework = error.name.partition(".")[0]
    if framework not in absent():
        return None
    origin = _importing_file(error.__traceback__)
    if origin is None or origin.is_relative_to(TIFFIN_SOURCE):
        return None  # tiffin imported it: a real error
    return reason_for(framework)


def reason_for(framework: str) -> str:
    return f"does not apply: needs {framework}, not installed in this environment"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = absent()
    for item in items:
        needed = next((f for start, f in NEEDS.items() if item.nodeid.startswith(start)), "")
        lacking = sorted(missing.intersection(needed.split()))
        if lacking:
            item.add_marker(pytest.mark.skip(reason=reason_for(" and ".join(lacking))))


def _importing_file(tb: TracebackType | None) -> Path | None:
    """The last file of the traceback that is not importlib's own machinery."""
    found = None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not name.startswith("<frozen"):
            found = Path(name).resolve()
        tb = tb.tb_next
    return found


class FrameworkAwareModule(pytest.Module):
    def _getobj(self) -> Any:
        try:
            return super()._getobj()
        except self.CollectError as error:
            reason = not_applicable(error.__cause__)
            if reason is None:
                raise
            raise pytest.skip.Exception(reason, allow_module_level=True) from None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> Any:
    if module_path.name == "__init__.py":
        return None  # a package: pytest's own
    return FrameworkAwareModule.from_parent(parent, path=module_path)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    reason = not_applicable(call.excinfo.value) if call.excinfo is not None else None
    if reason is not None and report.failed:
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {reason}")
    return report
