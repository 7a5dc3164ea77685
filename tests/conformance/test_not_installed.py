"""A framework that is not installed: its column does not apply, and says so; never an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tiffin.conformance import cases
from tiffin.conformance.grid import write_grid


def test_a_framework_not_installed_does_not_apply(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(cases, "installed", lambda name: name not in ("quart", "granian"))
    found, skipped = cases.reference_cases(["tiffin"], ["quart", "asgi"], ["inprocess"])
    assert {case.column.subject for case in found} == {"asgi"}
    quart = [item for item in skipped if item.column.subject == "quart"]
    assert len(quart) == len(cases.all_checks())
    assert {item.reason for item in quart} == {"does not apply: quart is not installed"}
    _, by_server = cases.reference_cases(["tiffin"], ["asgi"], ["granian"])
    assert {item.reason for item in by_server} == {"does not apply: granian is not installed"}
    # The grid records facts about implementations, not about this environment.
    write_grid(tmp_path, [], skipped)
    grid = json.loads((tmp_path / "GRID.json").read_text())
    assert not any("quart" in column for column in grid["columns"])
