"""A service served by `tiffin serve` in tests of depends(url=...)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import tiffin
from tiffin.exceptions import NotFound


@tiffin.service
class RemoteModel:
    @tiffin.api
    def shout(self, text: str) -> str:
        return text.upper()

    @tiffin.api
    async def ashout(self, text: str) -> str:
        return text.upper()

    @tiffin.api
    def echo(self, value: dict[str, Any]) -> dict[str, Any]:
        return value

    @tiffin.api
    def count(self, n: int) -> Iterator[str]:
        for i in range(n):
            yield str(i)

    @tiffin.api
    def missing(self) -> str:
        raise NotFound("no such thing")
