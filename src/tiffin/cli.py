"""The ``tiffin`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tiffin.exceptions import BentoMLException
from tiffin.extras import is_missing_test_extra, missing_test_extra

SERVE_DESCRIPTION = """\
Serve a tiffin service over HTTP with uvicorn.

TARGET names the service:
  module:Service          a module on the import path (run from its directory)
  path/to/file.py:Service a Python file
  module                  a module holding exactly one service

Besides the service's APIs and mounted apps, every server answers /livez,
/healthz, /readyz, /metrics, /docs.json and /docs (Swagger UI, works offline).
"""

SERVE_EPILOG = """\
examples:
  tiffin serve service.py:MyService
  tiffin serve my_package.service:MyService --host 0.0.0.0 --port 8080 --workers 4
  tiffin serve service.py:MyService --reload

SIGTERM or SIGINT (Ctrl-C) stops accepting connections, lets requests in flight
finish (at most --graceful-timeout seconds), runs every shutdown step (mounted
apps' lifespans, on_shutdown hooks) and exits 0.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tiffin", description="Serve and test tiffin services.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve a service over HTTP with uvicorn",
        description=SERVE_DESCRIPTION,
        epilog=SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "target", metavar="TARGET", help="module:Service, path/to/file.py:Service, or module"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=3000, help="port to bind (default: 3000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes sharing the port (default: the service's workers=, "
        'else its resources["cpu"], else 1); /metrics reports all of them',
    )
    serve.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="request timeout; overrides the service's traffic timeout",
    )
    serve.add_argument(
        "--graceful-timeout",
        type=int,
        default=30,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT, how long requests in flight may take to finish (default: 30)",
    )
    serve.add_argument(
        "--reload",
        action="store_true",
        help="restart when a .py file under the working directory changes (development; "
        "one worker)",
    )
    serve.add_argument(
        "--working-dir",
        default=None,
        metavar="DIR",
        help="directory to import TARGET from (default: the current directory)",
    )
    serve.add_argument(
        "--server",
        default="uvicorn",
        choices=["uvicorn", "hypercorn", "granian"],
        help="the ASGI server (default: uvicorn); hypercorn and granian (installed apart) "
        "serve one worker, without --reload",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level (default: info; the startup banner shows at info and debug)",
    )
    _add_conformance_parser(commands)
    return parser


def _add_conformance_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    try:
        from tiffin.conformance import cli as conformance_cli
    except ModuleNotFoundError as exc:
        if not is_missing_test_extra(exc):
            raise
        # `tiffin serve` needs tiffin alone; the checks talk to services with httpx.
        unavailable = commands.add_parser(
            "conformance", help="run the conformance checks (needs tiffin[test])"
        )
        unavailable.set_defaults(missing=missing_test_extra("tiffin conformance", exc))
        return
    conformance_cli.add_parser(commands)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if getattr(args, "missing", None):  # whatever its arguments, the command cannot run
        print(f"tiffin: error: {args.missing}", file=sys.stderr)
        return 2
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "conformance":
        from tiffin.conformance import cli as conformance_cli

        try:
            return conformance_cli.run(args)
        except (BentoMLException, ValueError, RuntimeError) as exc:
            print(f"tiffin: error: {exc}", file=sys.stderr)
            return 2
    if args.command == "serve":
        from tiffin.serving import ServeOptions, serve

        options = ServeOptions(
            target=args.target,
            host=args.host,
            port=args.port,
            workers=args.workers,
            timeout=args.timeout,
            graceful_timeout=args.graceful_timeout,
            reload=args.reload,
            log_level=args.log_level,
            working_dir=args.working_dir,
            server=args.server,
        )
        try:
            return serve(options)
        except BentoMLException as exc:
            print(f"tiffin: error: {exc}", file=sys.stderr)
            return 2
    return 0
