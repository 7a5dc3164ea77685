"""The seed document's middleware example: the summarization service behind TrustedHost.

Only requests whose ``Host`` is ``example.com`` or a subdomain of it are answered;
any other host gets ``400 Invalid host header``, on every route. The model is
``$SUMMARIZATION_MODEL`` (a Hugging Face model id or a local directory), by default
the model ``pipeline("summarization")`` picks.
"""

from __future__ import annotations

import os

from starlette.middleware.trustedhost import TrustedHostMiddleware
from transformers import pipeline

import tiffin as bentoml

MODEL_ENV = "SUMMARIZATION_MODEL"
DEFAULT_MODEL = "sshleifer/distilbart-cnn-12-6"  # transformers 4.x's summarization default


@bentoml.service(
    resources={"cpu": "2"},
    traffic={"timeout": 10},
)
class Summarization:
    def __init__(self) -> None:
        self.pipeline = pipeline("summarization", model=os.environ.get(MODEL_ENV, DEFAULT_MODEL))

    @bentoml.api
    def summarize(self, text: str) -> str:
        result = self.pipeline(text, truncation=True)
        return result[0]["summary_text"]


# Add TrustedHostMiddleware to ensure the Service only accepts requests from certain hosts
Summarization.add_asgi_middleware(
    TrustedHostMiddleware, allowed_hosts=["example.com", "*.example.com"]
)
