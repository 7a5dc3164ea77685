"""schemathesis (pinned in the ``test`` extra) against ``/docs.json`` as ``tiffin serve``
serves it: the APIs, the infra routes and the mounted FastAPI routes, every phase
(coverage, fuzzing, stateful) and every check: no 5xx, only documented status codes,
content types and bodies that match the schema, schema-valid data accepted,
schema-violating data refused, a method an operation does not serve answered 405.

It runs schemathesis's own CLI: its pytest integration (``from_fixture``) does not
work under pytest 9, and the CLI is what a user would point at their service.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.support import OutputMark, assert_serving, beyond_info
from tests.serving import serving

MAX_EXAMPLES = "25"


@pytest.mark.parametrize(
    "target",
    [
        "examples/fastapi_mount/service.py:MyService",
        "tests.reliability.services.rich:RichService",
    ],
    ids=["fastapi-example", "rich-service"],
)
def test_the_served_schema_holds_under_schemathesis(target: str, tmp_path: Path) -> None:
    with serving(target) as server:
        mark = OutputMark(server)
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{server.url}/docs.json",
                "--checks",
                "all",
                "--max-examples",
                MAX_EXAMPLES,
                "--workers",
                "1",
                "--request-timeout",
                "20",
            ],
            cwd=tmp_path,  # its caches (.schemathesis, .hypothesis) stay out of the repository
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "NO_COLOR": "1"},
        )
        assert_serving(server)
        output = mark.settled()

    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout, run.stdout[-3000:]
    # Nothing the fuzzer sent made the server log an error. (uvicorn warns about the
    # requests it refuses itself, such as a NUL byte in a header.)
    assert [line for line in beyond_info(output) if "Invalid HTTP request" not in line] == []
