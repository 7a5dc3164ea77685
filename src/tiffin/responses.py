"""The JSON error bodies every layer answers with."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

GENERIC_ERROR = "An unexpected error has occurred, please check the server log."


def json_error(
    status: int, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)
