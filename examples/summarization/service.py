"""The seed document's "more practical example", for real.

A transformers summarization pipeline behind ``POST /summarize``, and a FastAPI app
mounted at ``/v1`` with one route inside the service class and one outside it.

The model is ``$SUMMARIZATION_MODEL``: a Hugging Face model id, or a directory holding
a model and its tokenizer. By default it is the model ``pipeline("summarization")``
picks, ``sshleifer/distilbart-cnn-12-6`` (downloaded on first use).
"""

from __future__ import annotations

import os

from fastapi import Depends, FastAPI
from transformers import pipeline

import tiffin as bentoml

MODEL_ENV = "SUMMARIZATION_MODEL"
DEFAULT_MODEL = "sshleifer/distilbart-cnn-12-6"  # transformers 4.x's summarization default

EXAMPLE_INPUT = "Breaking News: In an astonishing turn of events, the small town of Willow Creek has been taken by storm as local resident Jerry Thompson's cat, Whiskers, performed what witnesses are calling a 'miraculous and gravity-defying leap.' Eyewitnesses report that Whiskers, an otherwise unremarkable tabby cat, jumped a record-breaking 20 feet into the air to catch a fly. The event, which took place in Thompson's backyard, is now being investigated by scientists for potential breaches in the laws of physics. Local authorities are considering a town festival to celebrate what is being hailed as 'The Leap of the Century."  # noqa: E501

# Create a FastAPI app instance
app = FastAPI()


@bentoml.service(
    resources={"cpu": "2"},
    traffic={"timeout": 10},
)
@bentoml.mount_asgi_app(app, path="/v1")
class Summarization:
    def __init__(self) -> None:
        model = os.environ.get(MODEL_ENV, DEFAULT_MODEL)
        try:
            self.pipeline = pipeline("summarization", model=model)
        except Exception as exc:  # OSError, ValueError...: whatever transformers found wrong
            missing = model.startswith(("/", ".")) and not os.path.isdir(model)
            raise RuntimeError(
                f"cannot load the summarization model {model!r}: "
                f"{'no such directory' if missing else exc}\n"
                f"Point {MODEL_ENV} at another model: a Hugging Face model id "
                f"({MODEL_ENV}=facebook/bart-large-cnn) or a directory holding a model "
                f"and its tokenizer ({MODEL_ENV}=./my-model)."
            ) from exc

    # Define a name attribute
    name = "MyService"

    # The original Service API endpoint for text summarization
    @bentoml.api
    def summarize(self, text: str = EXAMPLE_INPUT) -> str:
        # truncation: a text longer than the model reads is cut, not an error
        result = self.pipeline(text, truncation=True)
        return result[0]["summary_text"]

    # Access the Service instance inside the class
    @app.get("/hello-inside")
    def hello(self):
        return f"Hello {self.name}. You can access the Service instance inside the class."


# Access the Service instance outside the class
@app.get("/hello-outside")
async def hello(service: Summarization = Depends(bentoml.get_current_service)):  # noqa: B008
    return f"Hello {service.name}. You can access the Service instance outside the class."
