"""APIs with every common kind of parameter, for arbitrary input.

``/echo`` gives back whatever JSON value it got; ``/typed`` checks ints, floats,
strings, booleans, lists and a nested model; ``/text`` and ``/text_sync`` (a
thread) take one required string; ``/boom`` raises in user code exactly when
``trigger == "boom"``, the only input that may answer 500.
"""

from __future__ import annotations

from typing import Any

import pydantic

import tiffin

BOOM = "boom"


class Point(pydantic.BaseModel):
    x: int
    y: float = 0.0
    label: str | None = None


@tiffin.service
class Inputs:
    @tiffin.api
    async def echo(self, value: Any = None) -> Any:
        return value

    @tiffin.api
    async def typed(
        self,
        count: int,
        ratio: float = 1.0,
        name: str = "",
        flag: bool = False,
        items: list[int] | None = None,
        point: Point | None = None,
    ) -> dict[str, Any]:
        return {
            "count": count,
            "ratio": ratio,
            "name": name,
            "flag": flag,
            "items": items,
            "point": point,
        }

    @tiffin.api
    async def text(self, text: str) -> str:
        return text

    @tiffin.api
    def text_sync(self, text: str) -> str:
        return text

    @tiffin.api
    async def boom(self, trigger: str = "") -> str:
        if trigger == BOOM:
            raise RuntimeError("user code failed on purpose")
        return "no boom"


PARAMETERS = {
    "/echo": {"value"},
    "/typed": {"count", "ratio", "name", "flag", "items", "point"},
    "/text": {"text"},
    "/text_sync": {"text"},
    "/boom": {"trigger"},
}
