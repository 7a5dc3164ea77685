"""A service with a class attribute and a FastAPI dependency, for the override tests."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI

import tiffin

api = FastAPI()


def mode() -> str:
    return "production"


@tiffin.service
@tiffin.mount_asgi_app(api, path="/v1")
class Greeter:
    name = "World"

    @tiffin.api
    def hello(self) -> str:
        return f"Hello {self.name}"

    @api.get("/mode")
    def show_mode(self, current: Annotated[str, Depends(mode)]) -> str:
        return current
