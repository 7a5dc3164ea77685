"""The seed document's custom prefix example: the FastAPI app served under `/fastapi`."""

from fastapi import FastAPI

import tiffin as bentoml

app = FastAPI()


@bentoml.service
@bentoml.mount_asgi_app(app, path="/fastapi")  # Add the prefix here
class MyService:
    name = "MyService"

    @app.get("/hello")  # This endpoint should be requested via "/fastapi/hello"
    def hello(self):
        return f"Hello {self.name}"
