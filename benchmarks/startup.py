"""Cold paths: import times in fresh interpreters, and launch to the first ``/readyz`` 200."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
from pathlib import Path
from typing import Any

from servers import APPS_DIR, Contender, Server, bentoml_env

TIMED_IMPORT = """
import sys, time
sys.path.insert(0, {apps!r})
began = time.perf_counter()
import {module}
print(time.perf_counter() - began)
"""


def import_subjects(
    python: str, bentoml_python: str | None
) -> dict[str, tuple[str, str, dict[str, str]]]:
    """key -> (python, module to import, extra environment)."""
    subjects = {
        "tiffin": (python, "tiffin", {}),
        "tiffin.testing": (python, "tiffin.testing", {}),
        "fastapi": (python, "fastapi", {}),
        "service_tiffin": (python, "service", {}),
    }
    if bentoml_python is not None:
        subjects["bentoml"] = (bentoml_python, "bentoml", {"BENTOML_DO_NOT_TRACK": "true"})
        subjects["service_bentoml"] = (
            bentoml_python,
            "service",
            {"BENCH_IMPL": "bentoml", "BENTOML_DO_NOT_TRACK": "true"},
        )
    return subjects


def time_import(python: str, module: str, env: dict[str, str]) -> float:
    code = TIMED_IMPORT.format(apps=str(APPS_DIR), module=module)
    out = subprocess.run(
        [python, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=APPS_DIR,
        timeout=120,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def import_times(python: str, bentoml_python: str | None, *, repeats: int) -> dict[str, Any]:
    subjects = import_subjects(python, bentoml_python)
    seconds: dict[str, list[float]] = {key: [] for key in subjects}
    for _ in range(repeats):
        for key, (interpreter, module, env) in subjects.items():
            seconds[key].append(time_import(interpreter, module, env))
    return {"seconds": seconds, "heaviest_under_tiffin": heaviest_imports(python, "tiffin")}


def heaviest_imports(python: str, module: str, top: int = 8) -> list[dict[str, Any]]:
    """``python -X importtime``: where ``import module`` spends its time, by top-level package.

    The self times of every module imported on behalf of ``module`` (its subtree
    in the report), summed per top-level package.
    """
    out = subprocess.run(
        [python, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pattern = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
    entries = []
    for line in out.stderr.splitlines():
        match = pattern.match(line)
        if match is not None:
            self_us, _, indent, name = match.groups()
            entries.append((len(indent), name, int(self_us)))
    # Children are listed before their parent: the subtree is the run of deeper
    # entries just above the top-level line of ``module``.
    top_index = max(
        i for i, (depth, name, _) in enumerate(entries) if depth == 1 and name == module
    )
    first = top_index
    while first > 0 and entries[first - 1][0] > 1:
        first -= 1
    by_package: dict[str, int] = {}
    for _, name, self_us in entries[first : top_index + 1]:
        package = name.partition(".")[0]
        by_package[package] = by_package.get(package, 0) + self_us
    ranked = sorted(by_package.items(), key=lambda item: -item[1])[:top]
    return [{"module": name, "ms": us / 1000} for name, us in ranked]


def launch_subjects(python: str, bentoml_python: str | None, bentoml_home: Path) -> list[Contender]:
    subjects = [
        Contender(
            "tiffin_trivial",
            "tiffin serve, trivial service",
            (python, "-m", "tiffin", "serve", "trivial.py:Trivial", "--port", "{port}"),
        ),
        Contender(
            "tiffin",
            "tiffin serve, FastAPI mounted",
            (python, "-m", "tiffin", "serve", "service.py:BenchService", "--port", "{port}"),
        ),
        Contender(
            "fastapi",
            "FastAPI alone on uvicorn",
            (python, "-m", "uvicorn", "fastapi_app:app", "--port", "{port}"),
        ),
        Contender(
            "bare",
            "bare ASGI on uvicorn",
            (python, "-m", "uvicorn", "bare_asgi:app", "--port", "{port}"),
        ),
    ]
    if bentoml_python is not None:
        bentoml = (bentoml_python, "-m", "bentoml", "serve")
        subjects += [
            Contender(
                "bentoml_trivial",
                "bentoml serve, trivial service",
                (*bentoml, "trivial.py:Trivial", "--port", "{port}"),
                env=bentoml_env(bentoml_home),
            ),
            Contender(
                "bentoml",
                "bentoml serve, FastAPI mounted",
                (*bentoml, "service.py:BenchService", "--port", "{port}"),
                env=bentoml_env(bentoml_home),
            ),
        ]
    return subjects


def launch_times(subjects: list[Contender], log_dir: Path, *, repeats: int) -> dict[str, Any]:
    seconds: dict[str, list[float]] = {subject.key: [] for subject in subjects}
    for _ in range(repeats):
        for subject in subjects:
            server = Server(subject, log_dir)
            try:
                seconds[subject.key].append(server.wait_ready())
            finally:
                server.stop()
    return {
        "labels": {subject.key: subject.label for subject in subjects},
        "seconds": seconds,
    }


def medians(series: dict[str, list[float]]) -> dict[str, float]:
    return {key: statistics.median(values) for key, values in series.items() if values}


if __name__ == "__main__":
    import sys

    print(json.dumps(import_times(sys.executable, None, repeats=3), indent=2))
