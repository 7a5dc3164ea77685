"""A stand-in for ``sglang``'s offline engine: canned text, no weights, no GPU.

``Engine(server_args=...)`` has the surface BentoSGLang's services use:
``async_generate(prompt, sampling_params, stream=True)`` (an async iterator of
``{"text": <everything so far>}``), ``tokenizer_manager.served_model_name`` and
``shutdown()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

shutdowns: list[str] = []  # served model names, as engines are shut down


class TokenizerManager:
    def __init__(self, served_model_name: str) -> None:
        self.served_model_name = served_model_name


class Engine:
    def __init__(self, server_args: Any) -> None:
        self.server_args = server_args
        self.tokenizer_manager = TokenizerManager(server_args.served_model_name)

    async def async_generate(
        self, prompt: str, sampling_params: dict[str, Any] | None = None, stream: bool = False
    ) -> AsyncIterator[dict[str, Any]]:
        async def outputs() -> AsyncIterator[dict[str, Any]]:
            text = ""
            for word in ("stand-in", "answer", f"({len(prompt)} chars)"):
                text += word + " "
                yield {"text": text}

        return outputs()

    def shutdown(self) -> None:
        shutdowns.append(self.tokenizer_manager.served_model_name)
