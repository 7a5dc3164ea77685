"""``sglang.srt.server_args.ServerArgs``: the options, kept as given."""

from __future__ import annotations

from typing import Any


class ServerArgs:
    def __init__(self, model_path: Any, served_model_name: str, **options: Any) -> None:
        self.model_path = model_path
        self.served_model_name = served_model_name
        self.options = options
