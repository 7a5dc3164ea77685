"""A user's service, checked by tiffin's conformance suite: a FastAPI app mounted at /v1,
an API, and a TrustedHost allow-list."""

from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware

import tiffin as bentoml

app = FastAPI()


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}


@bentoml.service(traffic={"timeout": 30, "max_concurrency": 16})
@bentoml.mount_asgi_app(app, path="/v1")
class Shop:
    @bentoml.api
    def price(self, item_id: int, quantity: int = 1) -> dict[str, float]:
        return {"item_id": item_id, "total": 2.5 * quantity}


Shop.add_asgi_middleware(
    TrustedHostMiddleware, allowed_hosts=["shop.example.com", "*.shop.example.com"]
)
