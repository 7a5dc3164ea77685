"""``vllm.entrypoints.openai.api_server``: the handlers, lifespan and state OpenLLM mounts.

Handlers read ``app.state`` as vLLM's do; ``init_app_state`` fills it from the
arguments; ``lifespan`` records that it ran (``events``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

events: list[str] = []


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    events.append("vllm lifespan startup")
    yield
    events.append("vllm lifespan shutdown")


@asynccontextmanager
async def build_async_engine_client(args: Any) -> AsyncIterator[Any]:
    async def get_vllm_config() -> Any:
        return SimpleNamespace(model=args.model)

    events.append("engine started")
    yield SimpleNamespace(get_vllm_config=get_vllm_config)
    events.append("engine stopped")


async def init_app_state(engine: Any, vllm_config: Any, state: Any, args: Any) -> None:
    state.served_model_names = list(args.served_model_name)
    state.model_path = vllm_config.model


async def show_available_models(raw_request: Request) -> JSONResponse:
    names = raw_request.app.state.served_model_names
    return JSONResponse({"object": "list", "data": [{"id": n, "object": "model"} for n in names]})


async def create_chat_completion(raw_request: Request) -> JSONResponse:
    request = await raw_request.json()
    content = f"echo: {request['messages'][-1]['content']}"
    return JSONResponse(
        {
            "object": "chat.completion",
            "model": raw_request.app.state.served_model_names[0],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        }
    )


async def create_embedding(raw_request: Request) -> JSONResponse:
    return JSONResponse({"object": "list", "data": [{"embedding": [0.0, 1.0]}]})


async def create_completion(raw_request: Request) -> JSONResponse:
    request = await raw_request.json()
    return JSONResponse({"object": "text_completion", "choices": [{"text": request["prompt"]}]})
