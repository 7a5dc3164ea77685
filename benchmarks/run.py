"""Benchmark tiffin against a bare ASGI app, FastAPI alone and BentoML 1.4, side by side.

    python benchmarks/run.py            # everything, about 8 minutes; writes benchmarks/RESULTS.md
    python benchmarks/run.py --quick    # a smoke run of every section, about 30 seconds

Sections: over the socket (req/s, p50/p99 with wrk or a Python client), launch
to ``/readyz``, worker memory, in-process cost per request, the test harness's
per-test cost, growth (mounts, middlewares, API routes), import times. Each
section interleaves its contenders and repeats; RESULTS.md reports medians and
the targets as ratios measured in the same run. BentoML runs in a virtualenv
of its own (``benchmarks/.venv-bentoml``, made on first use).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import growth  # noqa: E402
import harness  # noqa: E402
import inprocess  # noqa: E402
import machine  # noqa: E402
import over_socket  # noqa: E402
import report  # noqa: E402
import startup  # noqa: E402
from load import wrk_path  # noqa: E402
from servers import contenders  # noqa: E402

BENTOML_VENV = BENCH_DIR / ".venv-bentoml"
BENTOML_REQUIREMENT = "bentoml==1.4.40"
SECTIONS = ("socket", "launch", "inprocess", "harness", "growth", "imports")


@dataclass(frozen=True)
class Settings:
    socket_rounds: int = 5
    socket_seconds: float = 3
    warmup_seconds: float = 1
    connections: int = 32
    launch_repeats: int = 5
    import_repeats: int = 10
    inprocess_rounds: int = 21
    inprocess_requests: int = 300
    bentoml_inprocess_rounds: int = 7
    bentoml_inprocess_requests: int = 150
    harness_rounds: int = 5
    harness_tests: int = 100
    growth_rounds: int = 7
    growth_requests: int = 2000


QUICK = Settings(
    socket_rounds=1,
    socket_seconds=0.5,
    warmup_seconds=0,
    connections=16,
    launch_repeats=1,
    import_repeats=1,
    inprocess_rounds=1,
    inprocess_requests=100,
    bentoml_inprocess_rounds=1,
    bentoml_inprocess_requests=50,
    harness_rounds=1,
    harness_tests=5,
    growth_rounds=1,
    growth_requests=200,
)


def bentoml_python(args: argparse.Namespace) -> str | None:
    """BentoML's interpreter, making its virtualenv on first use; None when BentoML is left out."""
    if not args.bentoml:
        return None
    if args.bentoml_python:
        return str(args.bentoml_python)
    python = BENTOML_VENV / "bin" / "python"
    if not python.exists():
        log(f"making {BENTOML_VENV} with {BENTOML_REQUIREMENT} (once)")
        subprocess.run([sys.executable, "-m", "venv", str(BENTOML_VENV)], check=True)
    check = subprocess.run(
        [str(python), "-c", "import bentoml, fastapi, httpx"], capture_output=True, check=False
    )
    if check.returncode != 0:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", BENTOML_REQUIREMENT, "fastapi", "httpx"],
            check=True,
        )
    return str(python)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_bentoml_inprocess(python: str, settings: Settings) -> dict[str, Any]:
    out = subprocess.run(
        [
            python,
            str(BENCH_DIR / "inprocess.py"),
            "--impl",
            "bentoml",
            "--rounds",
            str(settings.bentoml_inprocess_rounds),
            "--requests",
            str(settings.bentoml_inprocess_requests),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"BentoML in-process run failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one short round of every section")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where RESULTS.md, results.json and plots/ go "
        "(default: benchmarks/, or benchmarks/.quick/ with --quick)",
    )
    parser.add_argument(
        "--bentoml",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="include BentoML (default: yes, except with --quick)",
    )
    parser.add_argument(
        "--bentoml-python", type=Path, default=None, help="an interpreter with bentoml installed"
    )
    parser.add_argument(
        "--tool",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator (default: wrk if installed, else the Python client)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: rewrite RESULTS.md and the plots from results.json in --out",
    )
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)}",
    )
    args = parser.parse_args(argv)
    if args.bentoml is None:
        args.bentoml = not args.quick
    if args.out is None:
        args.out = BENCH_DIR / (".quick" if args.quick else "")
    args.sections = [s for s in args.sections.split(",") if s]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    return args


def write_report(results: dict[str, Any], out: Path) -> None:
    results["targets"] = report.targets(results)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plots = report.plots(results, out / "plots")
    (out / "RESULTS.md").write_text(report.markdown(results, plots))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:
        write_report(json.loads((args.out / "results.json").read_text()), args.out)
        log(f"rewrote {args.out / 'RESULTS.md'} from {args.out / 'results.json'}")
        return 0
    settings = QUICK if args.quick else Settings()
    tool = args.tool if args.tool != "auto" else ("wrk" if wrk_path() else "python")
    began = time.perf_counter()
    python = sys.executable
    bento = bentoml_python(args)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix="tiffin-bench-logs-"))
    bentoml_home = Path(tempfile.mkdtemp(prefix="tiffin-bench-bentoml-home-"))
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "command": " ".join(["python", "benchmarks/run.py", *(argv or sys.argv[1:])]),
        "settings": asdict(settings),
        "tool": tool,
        "bentoml": "run" if bento else "not run",
        "machine": machine.describe(python, bento, tool),
        "sections": {},
    }
    sections: dict[str, Any] = results["sections"]
    load_before = os.getloadavg()

    if "imports" in args.sections:
        log("import times")
        sections["imports"] = startup.import_times(python, bento, repeats=settings.import_repeats)
    if "launch" in args.sections:
        log("launch to /readyz")
        subjects = startup.launch_subjects(python, bento, bentoml_home)
        sections["launch"] = startup.launch_times(
            subjects, log_dir, repeats=settings.launch_repeats
        )
    if "socket" in args.sections:
        log(f"over the socket with {tool} (the longest part)")
        sections["socket"] = over_socket.measure(
            contenders(python, bento, bentoml_home),
            log_dir,
            rounds=settings.socket_rounds,
            seconds=settings.socket_seconds,
            warmup_seconds=settings.warmup_seconds,
            connections=settings.connections,
            tool=tool,
        )
        labels = {c.key: c.label for c in contenders(python, bento, bentoml_home)}
        sections["socket"]["labels"] = labels
        sections["socket"]["commands"] = {
            c.key: " ".join(c.command).replace(python, "python").replace(bento or "\0", "python")
            for c in contenders(python, bento, bentoml_home)
        }
    if "inprocess" in args.sections:
        log("in-process cost per request")
        sections["inprocess"] = {
            "tiffin": asyncio.run(
                inprocess.measure(
                    "tiffin",
                    rounds=settings.inprocess_rounds,
                    requests=settings.inprocess_requests,
                )
            )
        }
        if bento:
            log("in-process cost per request, BentoML (its own virtualenv)")
            sections["inprocess"]["bentoml"] = run_bentoml_inprocess(bento, settings)
    if "harness" in args.sections:
        log("harness per-test cost")
        sections["harness"] = asyncio.run(
            harness.measure(rounds=settings.harness_rounds, tests=settings.harness_tests)
        )
    if "growth" in args.sections:
        log("growth: mounts, middlewares, API routes")
        sections["growth"] = asyncio.run(
            growth.measure(rounds=settings.growth_rounds, requests=settings.growth_requests)
        )

    results["machine"]["load_average_before"] = load_before
    results["machine"]["load_average_after"] = os.getloadavg()
    results["elapsed_seconds"] = time.perf_counter() - began
    write_report(results, out)
    elapsed = results["elapsed_seconds"]
    log(f"wrote {out / 'RESULTS.md'} and {out / 'results.json'} in {elapsed:.0f}s")
    for target in results["targets"]:
        log(f"target {target['id']}: {target['verdict']} ({target['measured']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
