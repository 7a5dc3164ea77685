"""Services whose sync code blocks (a model load that does not return, a slow handler)."""

from __future__ import annotations

import time

import tiffin

BLOCK_SECONDS = 4.0  # past every deadline the tests set; the thread then ends by itself


@tiffin.service
class SlowInit:
    def __init__(self) -> None:
        time.sleep(BLOCK_SECONDS)  # SlowInit blocks here


@tiffin.service
class SlowHook:
    @tiffin.on_startup
    def load_model(self) -> None:
        time.sleep(BLOCK_SECONDS)  # load_model blocks here


@tiffin.service
class SlowHandler:
    @tiffin.api
    def predict(self) -> str:
        time.sleep(BLOCK_SECONDS)  # predict blocks here
        return "late"


@tiffin.service
class Quick:
    @tiffin.api
    def ping(self) -> str:
        return "pong"


def line_of(marker: str) -> int:
    """The line of this file holding ``marker``: what a deadline message must name."""
    with open(__file__) as source:
        return next(n for n, text in enumerate(source, 1) if marker in text)
