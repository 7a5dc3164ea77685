"""BentoSGLang's ``qwen3-235b-a22b-fp8/service.py`` (github.com/bentoml/BentoSGLang, 6438cb7).

The structure as there: a FastAPI app mounted at ``/v1`` whose OpenAI routes are
added in ``__init__`` (after the app was mounted), the service options
(``image``, ``envs``, ``traffic`` with BentoCloud's ``concurrency``,
``resources`` with ``gpu_type``), a Hugging Face model as a class attribute, an
``on_shutdown`` hook stopping the engine and a streaming ``@api`` with
``Annotated[int, Ge(128), Le(...)]``. The model is a stand-in (``model_store``);
``sglang`` and ``transformers`` are the ones under ``tests/fake_packages``.
"""

import os
import typing as t
from collections.abc import AsyncGenerator
from typing import Annotated, Optional

import fastapi
from annotated_types import Ge, Le

import tiffin as bentoml
from tests.prebuilt.model_store import HuggingFaceModel  # stand-in for bentoml.models'

openai_api_app = fastapi.FastAPI()

MAX_SESSION_LEN = int(os.environ.get("MAX_SESSION_LEN", 32 * 1024))
MAX_TOKENS = int(os.environ.get("MAX_TOKENS", 16 * 1024))
NUM_GPUS = int(os.environ.get("NUM_GPUS", 4))

SYSTEM_PROMPT = "You are a helpful, respectful and honest assistant."

MODEL_ID = "Qwen/Qwen3-235B-A22B-FP8"

sys_pkg_cmd = "apt-get -y update && apt-get -y install libopenmpi-dev git python3-pip"
runtime_image = (
    bentoml.images.Image(
        base_image="docker.io/nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04",
        lock_python_packages=False,
    )
    .run(sys_pkg_cmd)
    .requirements_file("requirements.txt")
)


@bentoml.asgi_app(openai_api_app, path="/v1")
@bentoml.service(
    name="bentosglang-qwen3-235b-a22b-fp8-service",
    image=runtime_image,
    envs=[
        {"name": "MAX_SESSION_LEN", "value": f"{32 * 1024}"},
        {"name": "MAX_TOKENS", "value": f"{16 * 1024}"},
        {"name": "NUM_GPUS", "value": str(NUM_GPUS)},
    ],
    traffic={
        "timeout": 150,
        "concurrency": 10,
    },
    resources={
        "gpu": NUM_GPUS,
        "gpu_type": "nvidia-h100-80gb",
    },
)
class SGL:
    hf_model = HuggingFaceModel(MODEL_ID, exclude=["*.pth", "*.pt", "original/**/*"])

    def __init__(self) -> None:
        import sglang as sgl
        from sglang.srt.server_args import ServerArgs
        from transformers import AutoTokenizer

        server_args = ServerArgs(
            model_path=self.hf_model,
            served_model_name=MODEL_ID,
            tool_call_parser="qwen25",
            reasoning_parser="qwen3",
            context_length=MAX_SESSION_LEN,
            mem_fraction_static=0.85,
            tp_size=NUM_GPUS,
        )
        self.engine = sgl.Engine(server_args=server_args)

        self.tokenizer = AutoTokenizer.from_pretrained(self.hf_model)

        # OpenAI endpoints
        from fastapi import Request
        from fastapi.responses import ORJSONResponse
        from sglang.srt.openai_api.adapter import v1_chat_completions, v1_completions
        from sglang.srt.openai_api.protocol import ModelCard, ModelList

        @openai_api_app.post("/completions")
        async def openai_v1_completions(raw_request: Request):  # type: ignore[no-untyped-def]
            return await v1_completions(self.engine.tokenizer_manager, raw_request)

        @openai_api_app.post("/chat/completions")
        async def openai_v1_chat_completions(raw_request: Request):  # type: ignore[no-untyped-def]
            return await v1_chat_completions(self.engine.tokenizer_manager, raw_request)

        @openai_api_app.get("/models", response_class=ORJSONResponse)
        def available_models():  # type: ignore[no-untyped-def]
            """Show available models."""
            served_model_names = [self.engine.tokenizer_manager.served_model_name]
            model_cards = []
            for served_model_name in served_model_names:
                model_cards.append(ModelCard(id=served_model_name, root=served_model_name))
            return ModelList(data=model_cards)

    @bentoml.on_shutdown
    def shutdown(self) -> None:
        self.engine.shutdown()

    @bentoml.api
    async def generate(
        self,
        prompt: str = "Explain superconductors in plain English",
        system_prompt: Optional[str] = SYSTEM_PROMPT,  # noqa: UP045 - as the original
        max_tokens: Annotated[int, Ge(128), Le(MAX_TOKENS)] = MAX_TOKENS,
        sampling_params: Optional[t.Dict[str, t.Any]] = None,  # noqa: UP006, UP045
    ) -> AsyncGenerator[str, None]:
        if sampling_params is None:
            sampling_params = dict()
        if system_prompt is None:
            system_prompt = SYSTEM_PROMPT

        sampling_params["max_new_tokens"] = sampling_params.get("max_new_tokens", max_tokens)

        messages = [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": prompt},
        ]
        prompt = self.tokenizer.apply_chat_template(messages, tokenize=False)
        stream = await self.engine.async_generate(
            prompt, sampling_params=sampling_params, stream=True
        )

        cursor = 0
        async for request_output in stream:
            text = request_output["text"][cursor:]
            cursor += len(text)
            yield text
