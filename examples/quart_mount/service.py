"""The seed document's Quart example: a Quart app mounted at `/v1`, reading the service."""

from quart import Quart

import tiffin as bentoml

app = Quart(__name__)


@app.get("/hello")
async def hello_world():
    service = bentoml.get_current_service()
    return f"Hello, {service.name}"


@bentoml.service
@bentoml.mount_asgi_app(app, path="/v1")
class MyService:
    name = "MyService"
