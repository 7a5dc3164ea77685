"""The machine and the versions a run measured, for RESULTS.md."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from load import wrk_version

PACKAGES = ("tiffin", "fastapi", "starlette", "uvicorn", "pydantic", "httpx", "prometheus_client")
BENTOML_PACKAGES = ("bentoml", "fastapi", "starlette", "uvicorn", "pydantic")

VERSIONS = """
import json, sys
from importlib import metadata
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        found[name] = "not installed"
found["python"] = sys.version.split()[0]
print(json.dumps(found))
"""


def versions(python: str, packages: tuple[str, ...]) -> dict[str, str]:
    out = subprocess.run(
        [python, "-c", VERSIONS, *packages], capture_output=True, text=True, check=True
    )
    result: dict[str, str] = json.loads(out.stdout)
    return result


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def describe(python: str, bentoml_python: str | None, tool: str) -> dict[str, Any]:
    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": memory_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "load_tool": wrk_version() if tool == "wrk" else "Python client (benchmarks/load.py)",
        "versions": versions(python, PACKAGES),
        "bentoml_versions": versions(bentoml_python, BENTOML_PACKAGES) if bentoml_python else None,
    }
