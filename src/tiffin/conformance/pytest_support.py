"""The conformance checks in pytest: a suite class, a parametrizing decorator, and the grid.

Two ways to point the checks at your own service::

    class TestMyService(ConformanceSuite):          # (a) one fixture: your service
        @pytest.fixture
        def conformance_service(self):
            return MyService

    @conformance_cases(MyService)                  # (b) a test parametrized over the checks
    def test_my_service(conformance_case):
        conformance_case.run()

Every run prints which checks passed, failed, differ as declared, or do not
apply, and merges them into a grid (``GRID.md`` and ``GRID.json``).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tiffin.conformance.cases import (
    Case,
    Column,
    NotApplicable,
    Outcome,
    grouped_by_reason,
    service_cases,
    service_label,
)
from tiffin.conformance.grid import STATUSES, write_grid
from tiffin.conformance.registry import all_checks
from tiffin.conformance.spec import TRANSPORTS
from tiffin.conformance.targets import ServiceContext

CASE_KEY = pytest.StashKey[Case]()
NOT_APPLICABLE_KEY = pytest.StashKey[NotApplicable]()
GRID_INI = "tiffin_conformance_grid"
DEFAULT_GRID = "conformance-grid"

# Filled at collection (decorator and reference runs): cells that do not apply.
_declared_not_applicable: list[NotApplicable] = []


def case_params(
    cases: Iterable[Case], skipped: Iterable[NotApplicable], grid_dir: str | Path | None = None
) -> list[Any]:
    """``pytest.param`` per case; a declared difference is a strict xfail naming its evidence."""
    folder = None if grid_dir is None else str(grid_dir)
    _declared_not_applicable.extend(
        NotApplicable(item.check, item.column, item.missing, folder) for item in skipped
    )
    params = []
    for case in cases:
        marks = []
        if case.difference is not None:
            reason = f"{case.difference.behaviour} ({case.difference.evidence})"
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        params.append(pytest.param(_with_grid(case, folder), id=case.id, marks=marks))
    return params


def _with_grid(case: Case, folder: str | None) -> Case:
    return replace(case, grid_dir=folder)


def conformance_cases(
    service: Any, *, transports: Iterable[str] = TRANSPORTS, grid_dir: str | Path | None = None
) -> pytest.MarkDecorator:
    """Parametrize a test over every check that applies to ``service``, on each transport."""
    cases, skipped = service_cases(service, transports)
    return pytest.mark.parametrize("conformance_case", case_params(cases, skipped, grid_dir))


class ConformanceSuite:
    """Subclass it and provide the ``conformance_service`` fixture: your service.

    Set ``conformance_transports`` to run over fewer transports and
    ``conformance_grid_dir`` to choose where the grid is written.
    """

    conformance_transports: tuple[str, ...] = TRANSPORTS
    conformance_grid_dir: str | None = None

    @pytest.fixture
    def conformance_service(self) -> Any:
        raise pytest.UsageError(
            f"{type(self).__name__}: provide a fixture named conformance_service returning "
            "your service (the object @tiffin.service or @bentoml.service returned)"
        )

    # Checks of the reference service's own routes never apply to a user's service.
    @pytest.mark.parametrize(
        "conformance_check", [c.id for c in all_checks() if "reference" not in c.needs]
    )
    @pytest.mark.parametrize("conformance_transport", TRANSPORTS)
    def test_conformance(
        self,
        request: pytest.FixtureRequest,
        conformance_service: Any,
        conformance_check: str,
        conformance_transport: str,
    ) -> None:
        if conformance_transport not in self.conformance_transports:
            pytest.skip(
                f"does not apply: {type(self).__name__} runs over "
                f"{', '.join(self.conformance_transports)} only"
            )
        check = next(c for c in all_checks() if c.id == conformance_check)
        context = ServiceContext(conformance_service, conformance_transport)
        column = Column(
            context.implementation.name, service_label(conformance_service), conformance_transport
        )
        missing = check.missing(context.facts.capabilities)
        if missing:
            item = NotApplicable(check, column, tuple(missing), self.conformance_grid_dir)
            request.node.stash[NOT_APPLICABLE_KEY] = item
            pytest.skip(item.reason)
        case = Case(
            check,
            column,
            lambda: ServiceContext(conformance_service, conformance_transport),
            grid_dir=self.conformance_grid_dir,
        )
        request.node.stash[CASE_KEY] = case
        case.run()


class ConformanceRecorder:
    """A pytest plugin: collects the cases' outcomes, prints them, writes the grids."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.outcomes: list[tuple[str | None, Outcome]] = []
        self.not_applicable: list[NotApplicable] = []

    def default_grid(self) -> str:
        configured = self.config.getini(GRID_INI) or DEFAULT_GRID
        return str(Path(self.config.rootpath) / configured)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if item.stash.get(NOT_APPLICABLE_KEY, None) is not None:
            if call.when == "call" or report.skipped:
                self.not_applicable.append(item.stash[NOT_APPLICABLE_KEY])
            return report
        case = item.stash.get(CASE_KEY, None) or _case_of(item)
        if case is None or not (call.when == "call" or report.failed):
            return report
        if report.passed:
            status, detail = "pass", ""
        elif report.skipped and hasattr(report, "wasxfail"):
            status = "differs"
            detail = case.difference.behaviour if case.difference else str(report.wasxfail)
        else:
            status = "fail"
            detail = _failure_line(report)
        self.outcomes.append((case.grid_dir, Outcome(case.check, case.column, status, detail)))
        return report

    def _take_declared(self) -> None:
        """Cells found not to apply at collection (the terminal summary may come first)."""
        self.not_applicable.extend(_declared_not_applicable)
        _declared_not_applicable.clear()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._take_declared()
        if not self.outcomes:
            return
        folders: dict[str, tuple[list[Outcome], list[NotApplicable]]] = {}
        for folder, outcome in self.outcomes:
            folders.setdefault(folder or self.default_grid(), ([], []))[0].append(outcome)
        for item in self.not_applicable:
            folder = item.grid_dir or self.default_grid()
            if folder in folders:
                folders[folder][1].append(item)
        self.written = [
            write_grid(folder, outcomes, skipped)[0]
            for folder, (outcomes, skipped) in folders.items()
        ]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.outcomes:
            return
        self._take_declared()
        write = terminalreporter.write_line
        terminalreporter.section("tiffin conformance")
        # One cell per (check, column), however many tests ran it.
        cells = {(o.check.id, o.column.key): o.status for _, o in self.outcomes}
        cells.update(
            {
                (i.check.id, i.column.key): "n/a"
                for i in self.not_applicable
                if (i.check.id, i.column.key) not in cells
            }
        )
        counts: dict[str, dict[str, int]] = {}
        for (_, key), status in cells.items():
            counts.setdefault(key, dict.fromkeys(STATUSES, 0))[status] += 1
        counts = {
            key: column for key, column in counts.items() if column["n/a"] != sum(column.values())
        }
        for key, column in counts.items():
            write(f"{key}: " + ", ".join(f"{n} {status}" for status, n in column.items()))
        for _, outcome in self.outcomes:
            if outcome.status == "fail":
                write(f"FAIL {outcome.check.id} [{outcome.column.key}] {outcome.check.rule}")
        shown = [item for item in self.not_applicable if item.column.key in counts]
        for reason, ids in grouped_by_reason(shown).items():
            write(f"N/A  {', '.join(sorted(ids))}: {reason}")
        for path in getattr(self, "written", ()):
            write(f"grid written to {path}")


def _case_of(item: pytest.Item) -> Case | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    return next((value for value in callspec.params.values() if isinstance(value, Case)), None)


def _failure_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    return str(getattr(crash, "message", None) or report.longreprtext.splitlines()[-1:] or "")


class ReportRetry:
    """Makes a failure's report again when CPython 3.11's shared AST counter broke it.

    On 3.11 the AST constructor's recursion counter is one per interpreter, so an
    ``ast.parse`` in another thread (a server thread formatting a traceback, as the
    timeout checks make them) can make pytest's own parse of the failure's source
    fail with a SystemError, and the whole run end in an INTERNALERROR. trylast: the
    innermost wrapper, so the other plugins (xfail, the recorder) see the report.
    """

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        try:
            return (yield)
        except SystemError as exc:
            return _report_again(item, call, exc)


def _report_again(
    item: pytest.Item, call: pytest.CallInfo[None], exc: SystemError
) -> pytest.TestReport:
    if "AST constructor recursion depth mismatch" not in str(exc):
        raise exc
    for _ in range(3):
        try:
            return pytest.TestReport.from_item_and_call(item, call)
        except SystemError as again:
            if "AST constructor recursion depth mismatch" not in str(again):
                raise
    raise exc
