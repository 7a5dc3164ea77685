"""``sglang.srt.openai_api.protocol``: the two models BentoSGLang's /v1/models uses."""

from __future__ import annotations

from pydantic import BaseModel


class ModelCard(BaseModel):
    id: str
    object: str = "model"
    root: str | None = None


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelCard] = []
