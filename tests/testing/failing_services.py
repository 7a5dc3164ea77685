"""Services whose startup fails in the user's own code, a call or two deep."""

from __future__ import annotations

import tiffin


class ModelMissing(Exception):
    pass


def read_weights(path: str) -> bytes:
    raise ModelMissing(f"model weights not found at {path}")  # the cause is raised here


@tiffin.service
class FailingHook:
    @tiffin.on_startup
    def load_model(self) -> None:
        self.weights = read_weights("/models/missing.bin")  # the hook calls here


@tiffin.service
class FailingAsyncHook:
    @tiffin.on_startup
    async def load_model(self) -> None:
        self.weights = read_weights("/models/async.bin")  # the async hook calls here


def line_of(marker: str) -> int:
    with open(__file__) as source:
        return next(n for n, text in enumerate(source, 1) if marker in text)
