"""``sglang.srt.openai_api.adapter``: OpenAI handlers taking the raw request, canned answers."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse


async def v1_chat_completions(tokenizer_manager: Any, raw_request: Request) -> JSONResponse:
    request = await raw_request.json()
    content = f"echo: {request['messages'][-1]['content']}"
    return JSONResponse(
        {
            "object": "chat.completion",
            "model": tokenizer_manager.served_model_name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        }
    )


async def v1_completions(tokenizer_manager: Any, raw_request: Request) -> JSONResponse:
    request = await raw_request.json()
    return JSONResponse(
        {
            "object": "text_completion",
            "model": tokenizer_manager.served_model_name,
            "choices": [{"index": 0, "text": f"echo: {request['prompt']}"}],
        }
    )
