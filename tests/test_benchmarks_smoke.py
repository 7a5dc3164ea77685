"""The benchmark command runs end to end in --quick mode and writes every section.

No timing is asserted: the numbers of a quick run on a shared machine mean
nothing. BentoML is left out (the quick mode's default) and the load comes from
the Python client, so neither BentoML nor wrk needs to be installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SECTIONS = ("socket", "launch", "inprocess", "harness", "growth", "imports")
HEADINGS = (
    "## Targets",
    "## Machine and versions",
    "## Over the socket",
    "Worker memory",
    "## Launch to `/readyz`",
    "## In-process, one request",
    "## Harness per-test cost",
    "## Growth",
    "## Import times",
    "## How it was measured",
)
TARGETS = ("1", "2", "3a", "3b", "3c", "4a", "4b", "5", "6")


def test_quick_benchmark_writes_results_and_json(tmp_path: Path) -> None:
    command = [
        sys.executable,
        str(REPO / "benchmarks" / "run.py"),
        "--quick",
        "--no-bentoml",
        "--tool",
        "python",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-4000:]

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["mode"] == "quick"
    assert results["bentoml"] == "not run"
    assert set(results["sections"]) == set(SECTIONS)
    assert [target["id"] for target in results["targets"]] == list(TARGETS)
    assert all(target["verdict"] in ("met", "missed") for target in results["targets"])
    socket = results["sections"]["socket"]
    assert set(socket["runs"]) == {"bare", "fastapi", "tiffin"}
    for routes in socket["runs"].values():
        for runs in routes.values():
            assert runs and all(run["requests"] > 0 and run["errors"] == 0 for run in runs)

    markdown = (tmp_path / "RESULTS.md").read_text()
    for heading in HEADINGS:
        assert heading in markdown, heading
    assert "BentoML: not run" in markdown
