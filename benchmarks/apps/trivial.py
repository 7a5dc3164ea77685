"""The smallest service, for launch-to-``/readyz`` and import timings (tiffin or BentoML)."""

from __future__ import annotations

import os

if os.environ.get("BENCH_IMPL") == "bentoml":
    import bentoml
else:
    import tiffin as bentoml


@bentoml.service
class Trivial:
    @bentoml.api
    async def ping(self) -> str:
        return "pong"
