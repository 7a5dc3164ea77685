"""``vllm.entrypoints.openai.cli_args.make_arg_parser``: the options the templates set."""

from __future__ import annotations

import argparse


def make_arg_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--model", default=None)
    parser.add_argument("--served-model-name", nargs="*", default=None)
    return parser
