"""A stand-in for ``orjson`` (FastAPI's ORJSONResponse), with the standard library's json."""

from __future__ import annotations

import json
from typing import Any

OPT_NON_STR_KEYS = 1
OPT_SERIALIZE_NUMPY = 2


def dumps(value: Any, default: Any = None, option: int | None = None) -> bytes:
    return json.dumps(value, default=default).encode()


def loads(data: bytes | str) -> Any:
    return json.loads(data)
