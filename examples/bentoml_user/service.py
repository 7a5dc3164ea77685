"""A BentoML service, written the way a BentoML 1.4 user writes one.

Nothing here knows about tiffin: ``bentoml serve service:Translator`` serves it,
and the tests next to it run it through tiffin's pytest fixtures in-process.
"""

import time
from typing import Annotated

import bentoml
from fastapi import Depends, FastAPI, HTTPException

app = FastAPI()


def load_dictionary() -> dict[str, str]:
    """Stands in for loading a model from disk: the service does it once, in ``__init__``."""
    return {"hello": "bonjour", "world": "monde", "cat": "chat", "good": "bon"}


def get_settings() -> dict[str, str]:
    """A FastAPI dependency a test can override (``dependency_overrides``)."""
    return {"language": "fr", "environment": "production"}


class ProcessTimeMiddleware:
    """A plain ASGI middleware: every response carries ``x-process-time`` (seconds)."""

    def __init__(self, app, header: str = "x-process-time"):
        self.app = app
        self.header = header.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message):
            if message["type"] == "http.response.start":
                elapsed = f"{time.perf_counter() - started:.6f}".encode()
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (self.header, elapsed)],
                }
            await send(message)

        await self.app(scope, receive, timed_send)


@bentoml.service(traffic={"timeout": 30})
@bentoml.asgi_app(app, path="/v1")
class Translator:
    max_words = 20  # a class attribute tests may override

    def __init__(self) -> None:
        self.dictionary = load_dictionary()
        self.warmed_up = False
        self.requests_served = 0

    @bentoml.on_startup
    async def warm_up(self) -> None:
        # A first call before traffic arrives (a real service would run the model once).
        self.translate("hello world")
        self.warmed_up = True

    @bentoml.api
    def translate(self, text: str = "hello world") -> str:
        words = text.split()
        if len(words) > self.max_words:
            raise bentoml.exceptions.InvalidArgument(
                f"at most {self.max_words} words, got {len(words)}"
            )
        self.requests_served += 1
        return " ".join(self.dictionary.get(word.lower(), word) for word in words)

    @bentoml.api
    def spell(self, word: str = "hello"):
        """Streams the translation letter by letter (a generator API)."""
        yield from self.dictionary.get(word, word)

    # Routes defined inside the class: `self` is the running service instance.
    @app.get("/dictionary")
    def show_dictionary(self) -> dict[str, str]:
        return self.dictionary

    @app.get("/words/{word}")
    def lookup(self, word: str) -> dict[str, str]:
        if word not in self.dictionary:
            raise HTTPException(status_code=404, detail=f"no translation for {word!r}")
        return {"word": word, "translation": self.dictionary[word]}


# A route outside the class gets the running service through `Depends`.
@app.get("/status")
async def status(
    settings: Annotated[dict[str, str], Depends(get_settings)],
    service: Translator = Depends(bentoml.get_current_service),  # noqa: B008 (BentoML's idiom)
) -> dict[str, object]:
    return {
        "service": type(service).__name__,
        "warmed_up": service.warmed_up,
        "words": len(service.dictionary),
        "language": settings["language"],
    }


Translator.add_asgi_middleware(ProcessTimeMiddleware)
