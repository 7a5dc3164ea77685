"""A stand-in for ``openai.AsyncOpenAI``: chat completions streamed from canned words.

OpenLLM's templates call their own vLLM routes through it; here the model's
answer is canned, so no server needs to run at the client's ``base_url``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any


class _Completions:
    async def create(
        self, model: str, messages: list[dict[str, Any]], stream: bool = False, **options: Any
    ) -> AsyncIterator[Any]:
        text = messages[-1]["content"][0]["text"]

        async def chunks() -> AsyncIterator[Any]:
            for word in ("Arr,", "stand-in", f"says: {text}"):
                delta = SimpleNamespace(content=word + " ")
                yield SimpleNamespace(choices=[SimpleNamespace(delta=delta)])

        return chunks()


class AsyncOpenAI:
    def __init__(self, base_url: str = "", api_key: str = "") -> None:
        self.base_url = base_url
        self.chat = SimpleNamespace(completions=_Completions())
