"""`tiffin conformance --reference` runs the project's grid without pytest; bad usage is named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def conformance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tiffin", "conformance", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_reference_run_of_one_area(tmp_path: Path) -> None:
    result = conformance(
        "--reference",
        "--implementation",
        "tiffin",
        "--framework",
        "asgi",
        "--transport",
        "inprocess",
        "--check",
        "PFX",
        "--grid",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert (
        "PASS    PFX-002[tiffin/asgi/inprocess] A mounted app sees root_path = its prefix "
        "and path = the full path." in lines
    )
    assert lines[-1].startswith("11 pass, 0 differs, 0 fail, 0 n/a; grid: ")
    grid = json.loads((tmp_path / "GRID.json").read_text())
    assert grid["summary"] == {"tiffin/asgi/inprocess": {"pass": 11}}


def test_target_or_reference_is_required() -> None:
    result = conformance()
    assert result.returncode == 2
    assert "give either TARGET or --reference" in result.stderr


def test_an_unknown_implementation_is_named() -> None:
    result = conformance("--reference", "--implementation", "nope")
    assert result.returncode == 2
    assert result.stderr == (
        "tiffin: error: unknown implementation(s) ['nope']: "
        "tiffin knows ['bentoml', 'tiffin', 'tiffin-ray']\n"
    )


def test_a_server_option_runs_the_checks_over_that_server(tmp_path: Path) -> None:
    result = conformance(
        "--reference", "--implementation", "tiffin", "--framework", "asgi",
        "--server", "hypercorn", "--server", "granian", "--check", "PFX-002",
        "--grid", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for server in ("hypercorn", "granian"):
        assert f"PASS    PFX-002[tiffin/asgi/{server}] A mounted app" in result.stdout
    grid = json.loads((tmp_path / "GRID.json").read_text())
    assert sorted(grid["columns"]) == ["tiffin/asgi/granian", "tiffin/asgi/hypercorn"]
