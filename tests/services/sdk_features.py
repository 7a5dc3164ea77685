"""A service using the SDK real BentoML services use: arguments, on_deployment, Context,
files, CORS, moved probes, recorded build keys. Served by tests/test_sdk_served.py."""

from __future__ import annotations

import os
import pathlib
from typing import Annotated

from pydantic import BaseModel

import tiffin as bentoml
from tiffin.validators import ContentType


class Arguments(BaseModel):
    model_name: str = "small"


args = bentoml.use_arguments(Arguments)


@bentoml.service(
    traffic={"timeout": 30, "concurrency": 8, "external_queue": True},
    resources={"gpu": 1, "gpu_type": "nvidia-l4"},
    http={"cors": {"enabled": True, "access_control_allow_origins": ["https://app.example"]}},
    endpoints={"readyz": "/health"},
    labels={"owner": "tests"},
    image=bentoml.images.Image(python_version="3.11").requirements_file("requirements.txt"),
)
class SdkFeatures:
    @bentoml.on_deployment
    def prepare() -> None:
        log = os.environ.get("TIFFIN_TEST_DEPLOY_LOG")
        if log:
            with open(log, "a") as file:
                file.write(f"{os.getpid()}\n")

    @bentoml.api
    def model(self, ctx: bentoml.Context) -> str:
        ctx.response.headers["x-model"] = args.model_name
        ctx.response.set_cookie("seen", "1")
        return args.model_name

    @bentoml.api
    def upper(self, document: Annotated[pathlib.Path, ContentType("text/*")]) -> pathlib.Path:
        out = document.with_name("upper.txt")
        out.write_text(document.read_text().upper())
        return out
