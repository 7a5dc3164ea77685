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
  tiffin serve service.py:MyService --ray --replicas 2      (Ray Serve; pip install "tiffin[ray]")

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
    serve.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="arguments",
        help="a value for tiffin.use_arguments() (as `bentoml serve --arg`); repeatable",
    )
    _add_ray_arguments(serve)
    _add_conformance_parser(commands)
    return parser


def _add_ray_arguments(serve: argparse.ArgumentParser) -> None:
    ray = serve.add_argument_group(
        "Ray Serve (tiffin[ray])",
        "serve on Ray Serve instead of uvicorn: replicas import TARGET and run the service; "
        "--host/--port are Ray's HTTP proxy",
    )
    ray.add_argument("--ray", action="store_true", help="serve on Ray Serve")
    ray.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="a running Ray cluster (host:port, or 'auto'); default: a local Ray, stopped on exit",
    )
    ray.add_argument(
        "--replicas",
        type=int,
        default=None,
        metavar="N",
        help="replicas across the cluster (default: the service's workers=, else 1)",
    )


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
        from tiffin.arguments import parse_argument
        from tiffin.serving import ServeOptions, serve

        misuse = _ray_misuse(args)
        if misuse:
            parser.error(misuse)
        try:
            arguments = tuple(parse_argument(item) for item in args.arguments)
        except BentoMLException as exc:
            print(f"tiffin: error: {exc}", file=sys.stderr)
            return 2
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
            arguments=arguments,
            server=args.server,
        )
        try:
            if args.ray:
                from tiffin.ray.serving import serve_on_ray

                return serve_on_ray(options, address=args.address, replicas=args.replicas)
            return serve(options)
        except BentoMLException as exc:
            print(f"tiffin: error: {exc}", file=sys.stderr)
            return 2
    return 0


def _ray_misuse(args: argparse.Namespace) -> str | None:
    """Options that do not go together with (or without) ``--ray``, as argparse's message."""
    if not args.ray:
        given = [
            flag
            for flag, value in (("--address", args.address), ("--replicas", args.replicas))
            if value is not None
        ]
        verb = "need" if len(given) > 1 else "needs"
        return f"{' and '.join(given)} {verb} --ray" if given else None
    if args.workers is not None:
        return "--workers is for uvicorn; on Ray Serve use --replicas"
    if args.reload:
        return "--reload does not apply to --ray"
    if args.replicas is not None and args.replicas < 1:
        return f"--replicas must be at least 1, got {args.replicas}"
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        return '--ray needs Ray Serve, which is not installed. Fix: pip install "tiffin[ray]"'
    return None
