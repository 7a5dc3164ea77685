"""``tiffin conformance``: run the checks from the command line and write the grid."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from tiffin.conformance.cases import (
    Case,
    NotApplicable,
    grouped_by_reason,
    outcome_of,
    reference_cases,
    service_cases,
)
from tiffin.conformance.grid import STATUSES, write_grid
from tiffin.conformance.spec import ALL_TRANSPORTS, FRAMEWORKS, SERVER_TRANSPORTS, TRANSPORTS

DESCRIPTION = """\
Run the conformance checks and write a compatibility grid (GRID.md, GRID.json).

TARGET names your service, as for `tiffin serve` (module:Service, file.py:Service,
or a module holding one service); a BentoML service works where tiffin[bentoml]
is installed. Without TARGET, --reference runs every check against the reference
service built by each implementation, on every framework.
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "conformance",
        help="run the conformance checks against a service and write the grid",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "target",
        nargs="?",
        metavar="TARGET",
        help="module:Service, path/to/file.py:Service, or module",
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="run the reference service of each implementation instead",
    )
    parser.add_argument(
        "--implementation",
        action="append",
        default=None,
        metavar="NAME",
        help="with --reference: tiffin, bentoml (default: those installed)",
    )
    parser.add_argument(
        "--framework",
        action="append",
        choices=FRAMEWORKS,
        default=None,
        help="with --reference: the mounted framework (default: all)",
    )
    parser.add_argument(
        "--transport",
        action="append",
        choices=ALL_TRANSPORTS,
        default=None,
        help="inprocess, socket (uvicorn), hypercorn, granian (default: inprocess and socket)",
    )
    parser.add_argument(
        "--server",
        action="append",
        choices=tuple(SERVER_TRANSPORTS.values()),
        default=None,
        help="over a socket served by this ASGI server (uvicorn is --transport socket); "
        "without --transport, only these",
    )
    parser.add_argument(
        "--check",
        action="append",
        default=None,
        metavar="ID",
        help="run only these checks (IDs such as PFX-001, or an area: PFX)",
    )
    parser.add_argument(
        "--grid",
        default="conformance-grid",
        metavar="DIR",
        help="where to write GRID.md and GRID.json (default: ./conformance-grid)",
    )
    parser.add_argument(
        "--working-dir",
        default=None,
        metavar="DIR",
        help="directory to import TARGET from (default: the current directory)",
    )


def run(args: argparse.Namespace) -> int:
    by_server = {server: transport for transport, server in SERVER_TRANSPORTS.items()}
    servers = [by_server[name] for name in args.server or ()]
    asked = args.transport or ([] if servers else list(TRANSPORTS))
    transports = list(dict.fromkeys([*asked, *servers]))
    if args.reference == bool(args.target):
        print("tiffin conformance: give either TARGET or --reference", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.CRITICAL)  # the checks provoke errors on purpose
    if args.reference:
        cases, skipped = reference_cases(
            args.implementation, args.framework or FRAMEWORKS, transports
        )
    else:
        from tiffin.conformance.implementations import implementations
        from tiffin.serving import load_service

        adapters = implementations().values()
        service = load_service(
            args.target,
            working_dir=args.working_dir,
            is_service=lambda value: any(a.owns(value) for a in adapters),
        )
        cases, skipped = service_cases(service, transports)
    cases = [case for case in cases if _selected(case, args.check)]
    skipped = [item for item in skipped if _selected(item, args.check)]
    if not cases:
        print("tiffin conformance: no check applies to this selection", file=sys.stderr)
        return 2
    outcomes = []
    for case in cases:
        outcome = outcome_of(case)
        outcomes.append(outcome)
        print(f"{outcome.status.upper():7} {case.id} {case.check.rule}", flush=True)
        if outcome.status == "fail":
            print(f"        {outcome.detail.splitlines()[0] if outcome.detail else ''}")
    for reason, check_ids in grouped_by_reason(skipped).items():
        print(f"N/A     {', '.join(check_ids)}: {reason}")
    markdown, _ = write_grid(args.grid, outcomes, skipped)
    counts = {status: sum(o.status == status for o in outcomes) for status in STATUSES}
    counts["n/a"] = len(skipped)
    print(", ".join(f"{n} {status}" for status, n in counts.items()) + f"; grid: {markdown}")
    return 1 if counts["fail"] else 0


def _selected(case: Case | NotApplicable, wanted: Sequence[str] | None) -> bool:
    return not wanted or any(case.check.id == w or case.check.area == w for w in wanted)
