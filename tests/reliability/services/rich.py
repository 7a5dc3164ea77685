"""A service with a schema worth fuzzing, for schemathesis: typed APIs beside a FastAPI app
with path, query and body parameters, its routes inside and outside the class.

Bodies use pydantic's strict types, so that anything the schema forbids (``false``
for a number, ``1`` for a string) is refused: lax coercion is pydantic's default,
and a fuzzer would rightly count it as a schema violation accepted.
"""

from __future__ import annotations

from typing import Annotated, Literal

import pydantic
from fastapi import FastAPI, HTTPException, Path, Query

import tiffin

app = FastAPI()

Price = Annotated[pydantic.StrictFloat, pydantic.Field(ge=0, le=1_000_000)]
Bounded = Annotated[pydantic.StrictFloat, pydantic.Field(ge=-1e6, le=1e6)]


class Item(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(strict=True)

    name: Annotated[str, pydantic.Field(min_length=1, max_length=50)]
    price: Price
    tags: list[str] = []


class Stored(Item):
    id: int


class Summary(pydantic.BaseModel):
    words: int
    shortest: str | None
    mode: Literal["words", "letters"]


ITEMS: dict[int, Stored] = {1: Stored(id=1, name="tiffin", price=3.5, tags=["steel"])}


@app.get("/items/{item_id}", responses={404: {"description": "No such item"}})
async def read_item(item_id: Annotated[int, Path(ge=1)]) -> Stored:
    if item_id not in ITEMS:
        raise HTTPException(404, "No such item")
    return ITEMS[item_id]


@app.post("/items", responses={400: {"description": "The body is not JSON"}})
async def create_item(item: Item) -> Stored:
    stored = Stored(id=len(ITEMS) + 1, **item.model_dump())
    if len(ITEMS) < 1000:  # a fuzzer posts many; keep memory bounded
        ITEMS[stored.id] = stored
    return stored


@app.get("/search")
async def search(
    q: Annotated[str, Query(max_length=30)] = "",
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[Stored]:
    return [item for item in ITEMS.values() if q in item.name][:limit]


@tiffin.service(traffic={"timeout": 10})
@tiffin.mount_asgi_app(app, path="/v1")
class RichService:
    name = "RichService"

    @app.get("/whoami")
    def whoami(self) -> str:
        return self.name

    @tiffin.api
    def summarize(
        self, text: pydantic.StrictStr, mode: Literal["words", "letters"] = "words"
    ) -> Summary:
        words = text.split()
        return Summary(
            words=len(words) if mode == "words" else len(text),
            shortest=min(words, key=len) if words else None,
            mode=mode,
        )

    @tiffin.api
    async def scale(self, values: list[Bounded], factor: Bounded = 2.0) -> list[float]:
        return [value * factor for value in values]

    @tiffin.api(route="/items/price")
    async def price(self, item: Item, quantity: pydantic.StrictInt = 1) -> float:
        return item.price * quantity
