"""Way (c): `tiffin conformance TARGET` from the command line, as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_tiffin_conformance_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tiffin", "conformance", "service.py:Shop", "--grid", str(tmp_path)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    rule = "Host: evil.com on an API gets 400 Invalid host header."
    assert f"PASS    THR-003[tiffin/Shop/inprocess] {rule}" in lines
    assert f"PASS    THR-003[tiffin/Shop/socket] {rule}" in lines
    not_applicable = [line for line in lines if line.startswith("N/A")]
    assert len(not_applicable) == 1 and "PFX-002" in not_applicable[0]
    assert not_applicable[0].endswith(
        "does not apply: needs a service the suite defines itself (not a user's service)"
    )
    assert lines[-1].startswith("38 pass, 0 differs, 0 fail, 168 n/a; grid: ")
    grid = json.loads((tmp_path / "GRID.json").read_text())
    assert grid["columns"] == ["tiffin/Shop/inprocess", "tiffin/Shop/socket"]
    assert grid["summary"]["tiffin/Shop/socket"] == {"pass": 19, "n/a": 84}
    assert "| THR-003 |" in (tmp_path / "GRID.md").read_text()
