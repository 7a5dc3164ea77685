"""A stand-in for ``bentoml.models.HuggingFaceModel``: the model's local path, no download.

As a class attribute BentoML's resolves, on an instance, to the directory of the
downloaded snapshot; this one resolves to a path naming the model id.
"""

from __future__ import annotations

from typing import Any


class HuggingFaceModel:
    def __init__(self, model_id: str, revision: str = "main", **options: Any) -> None:
        self.model_id = model_id
        self.revision = revision
        self.options = options

    def __get__(self, instance: Any, owner: Any) -> Any:
        return self if instance is None else f"/stand-in/models/{self.model_id}"
