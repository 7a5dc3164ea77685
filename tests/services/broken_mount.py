"""A service whose mounted app's lifespan fails, for `tiffin serve`'s startup error."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

import tiffin


@asynccontextmanager
async def refuse(app: Starlette) -> AsyncIterator[None]:
    raise ConnectionError("database at db:5432 refused the connection")
    yield


@tiffin.service
@tiffin.mount_asgi_app(Starlette(lifespan=refuse), path="/v1")
class BrokenMount:
    pass
