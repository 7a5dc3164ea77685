"""A service served over TLS from its own ``ssl`` config (certificate files named by the test)."""

from __future__ import annotations

import os

import tiffin as bentoml

CERT_DIR = os.environ.get("TIFFIN_TEST_CERT_DIR", ".")


@bentoml.service(
    ssl={
        "enabled": True,
        "certfile": os.path.join(CERT_DIR, "cert.pem"),
        "keyfile": os.path.join(CERT_DIR, "key.pem"),
    }
)
class Tls:
    @bentoml.api
    def ping(self) -> str:
        return "pong"
