"""BentoVLLM's ``llama3.1-8b-instruct/service.py`` (github.com/bentoml/BentoVLLM, 3b69b26).

The structure as there: ``BentoArgs`` read with ``use_arguments()``, the service
options (``envs``, ``image``, ``labels``, ``traffic``, ``endpoints``,
``resources`` with ``gpu_type``), a Hugging Face model as a class attribute,
``__command__`` running ``vllm serve`` (every other path is proxied to it) and
``__metrics__`` appending vLLM's metrics through ``LLM.context.state['client']``.
The model is a stand-in (``model_store``); ``vllm`` and ``torch`` are the ones
under ``tests/fake_packages``. Build-only details (the AMD and nightly image
steps) are shortened; they only add ``image.run(...)`` steps.
"""

from __future__ import annotations

import json
import logging
import os
import typing

import httpx
import pydantic

import tiffin as bentoml
from tests.prebuilt.model_store import HuggingFaceModel  # stand-in for bentoml.models'

logger = logging.getLogger(__name__)

if typing.TYPE_CHECKING:
    Jsonable = list[str] | list[dict[str, str]] | None
else:
    Jsonable = typing.Any


class BentoArgs(pydantic.BaseModel):
    tp: int = 1
    port: int = 8000
    attn_backend: str = "FLASH_ATTN"
    nightly: bool = False
    tool_parser: str | None = None
    max_model_len: int | None = None

    name: str = "llama3.1-8b-instruct"
    gpu_type: str = "nvidia-h100-80gb"
    model_id: str = "meta-llama/Meta-Llama-3.1-8B-Instruct"

    post: list[str] = pydantic.Field(default_factory=list)
    cli_args: list[str] = pydantic.Field(default_factory=list)
    envs: list[dict[str, str]] = pydantic.Field(default_factory=list)
    exclude: list[str] = pydantic.Field(default_factory=lambda: ["*.pth", "*.pt"])
    hf_generation_config: dict[str, float | int] = pydantic.Field(
        default_factory=lambda: {"temperature": 0.6, "top_p": 0.9}
    )

    @pydantic.field_validator("exclude", "cli_args", "post", "envs", mode="before")
    @classmethod
    def _coerce_json_or_csv(cls, v: typing.Any) -> Jsonable:
        if v is None or isinstance(v, (list, dict)):
            return typing.cast(Jsonable, v)
        if isinstance(v, str):
            try:
                return typing.cast(Jsonable, json.loads(v))
            except json.JSONDecodeError:
                return [item.strip() for item in v.split(",") if item.strip()]
        return typing.cast(Jsonable, v)

    @property
    def additional_cli_args(self) -> list[str]:
        import torch

        auto_tp = str(os.environ.get("TP_AUTO_ALLOCATE", True)).lower() in {"1", "true"}
        tp_rank = torch.cuda.device_count() if auto_tp else self.tp
        default = ["-tp", f"{tp_rank}", *self.cli_args]
        if self.tool_parser:
            default.extend(["--enable-auto-tool-choice", "--tool-call-parser", self.tool_parser])
        if self.max_model_len:
            default.extend(["--max-model-len", str(self.max_model_len)])
        default.extend(["--compilation-config", json.dumps({"level": 3})])
        return default

    @property
    def additional_labels(self) -> dict[str, str]:
        return {
            "hf_generation_config": json.dumps(self.hf_generation_config),
            "tool": self.tool_parser or "",
        }

    @property
    def runtime_envs(self) -> list[dict[str, str]]:
        envs = [*self.envs]
        envs.extend(
            [
                {"name": "VLLM_SKIP_P2P_CHECK", "value": "1"},
                {"name": "UV_NO_PROGRESS", "value": "1"},
            ]
        )
        if not self.gpu_type.startswith("amd"):
            envs.append({"name": "VLLM_ATTENTION_BACKEND", "value": self.attn_backend})
        return envs

    @property
    def image(self) -> bentoml.images.Image:
        image = (
            bentoml.images.Image(python_version="3.12")
            .system_packages("curl", "git")
            .requirements_file("requirements.txt")
        )
        for cmd in self.post:
            image = image.run(cmd)
        if self.nightly:
            image.run("uv pip install -U vllm --extra-index-url https://wheels.vllm.ai/nightly")
        return image


bento_args = bentoml.use_arguments(BentoArgs)
service = bentoml.service


@service(
    name=bento_args.name,
    envs=bento_args.runtime_envs,
    image=bento_args.image,
    labels={
        "owner": "bentoml-team",
        "type": "prebuilt",
        "project": "bentovllm",
        "openai_endpoint": "/v1",
        **bento_args.additional_labels,
    },
    traffic={"timeout": 300},
    endpoints={"readyz": "/health"},
    resources={"gpu": bento_args.tp, "gpu_type": bento_args.gpu_type},
)
class LLM:
    hf = HuggingFaceModel(bento_args.model_id.lower(), exclude=bento_args.exclude)

    def __command__(self) -> list[str]:
        return [
            "vllm",
            "serve",
            self.hf,
            "--port",
            str(bento_args.port),
            "--no-use-tqdm-on-load",
            "--disable-uvicorn-access-log",
            "--disable-fastapi-docs",
            *bento_args.additional_cli_args,
            "--served-model-name",
            bento_args.model_id,
        ]

    async def __metrics__(self, content: str) -> str:
        client = typing.cast(httpx.AsyncClient, LLM.context.state["client"])
        try:
            response = await client.get(f"http://localhost:{bento_args.port}/metrics", timeout=5.0)
            response.raise_for_status()
        except (httpx.ConnectError, httpx.RequestError) as e:
            logger.error("Failed to get metrics: %s", e)
            return content
        else:
            return content + "\n" + response.text
