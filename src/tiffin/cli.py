"""The ``tiffin`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tiffin.exceptions import BentoMLException


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tiffin", description="Serve and test tiffin services.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve a service over HTTP with uvicorn",
        description="Serve TARGET (module:Service, path/to/file.py:Service, or a module "
        "holding one service) with uvicorn.",
    )
    serve.add_argument("target", metavar="TARGET", help="module:Service or file.py:Service")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=3000, help="port to bind (default 3000)")
    serve.add_argument(
        "--timeout", type=float, default=None, help="request timeout in seconds (overrides traffic)"
    )
    serve.add_argument("--working-dir", default=None, help="directory to import TARGET from")
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from tiffin.serving import load_service, serve

        try:
            service = load_service(args.target, working_dir=args.working_dir)
            serve(
                service,
                host=args.host,
                port=args.port,
                timeout=args.timeout,
                log_level=args.log_level,
            )
        except BentoMLException as exc:
            print(f"tiffin: error: {exc}", file=sys.stderr)
            return 2
    return 0
