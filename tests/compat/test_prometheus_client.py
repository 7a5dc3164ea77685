"""tiffin.compat.prometheus_client against the installed prometheus_client."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

from tiffin.compat.prometheus_client import registered_collectors, store_values_in_files


def test_registered_collectors_lists_them_in_order() -> None:
    registry = CollectorRegistry()
    first = Counter("first", "one", registry=registry)
    second = Counter("second", "two", registry=registry)

    assert registered_collectors(registry) == [first, second]
    registry.unregister(first)
    assert registered_collectors(registry) == [second]


def test_values_made_while_stored_in_files_reach_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = values.ValueClass
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    undo = store_values_in_files()
    try:
        Counter("filed", "counted in a file", registry=None).inc(3)
    finally:
        undo()

    assert values.ValueClass is before
    aggregate = CollectorRegistry()
    MultiProcessCollector(aggregate, path=str(tmp_path))
    assert "filed_total 3.0" in generate_latest(aggregate).decode()
