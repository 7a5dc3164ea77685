"""How an ``@api`` reads its input and encodes its output, as BentoML's IO types do (1.4.40).

- Named parameters: a JSON object keyed by parameter names, or, when a parameter
  is a file (``tiffin.api_files``), a ``multipart/form-data`` form: file fields
  are uploads, other fields JSON (or plain text).
- Root input (one positional-only parameter): the whole body is the value; raw
  text for ``str``, the raw bytes for a file, JSON otherwise.
- A ``Path`` returned is sent as the file, its content type guessed from its name,
  else the ``ContentType`` of the return annotation, else ``application/octet-stream``.
- Other output: ``str`` -> text/plain; a Starlette ``Response`` passes through;
  generators stream chunk by chunk; anything else -> JSON.

Loaded when an API first serves a request (``tiffin.api_handler``), not when a
service is defined.
"""

from __future__ import annotations

import inspect
import json
import mimetypes
import pathlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pydantic_core
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
OCTET_STREAM = "application/octet-stream"


def media_type_of(request: Request) -> str:
    return request.headers.get("content-type", "application/json").split(";")[0].strip().lower()


async def form_input(request: Request, file_fields: dict[str, bool]) -> dict[str, Any]:
    """A form as BentoML reads it: uploads for file fields, JSON (else text) for the others.

    ``file_fields`` says for each file field whether it takes a list.
    """
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form:
        values = form.getlist(key)
        if key in file_fields:
            data[key] = values if file_fields[key] else values[0]
            continue
        value = values[0]
        if isinstance(value, UploadFile):
            value = (await value.read()).decode(errors="replace")
        try:
            data[key] = json.loads(value)
        except json.JSONDecodeError:
            data[key] = value
    return data


def file_response(path: pathlib.PurePath, declared: str | None) -> FileResponse:
    """A returned ``Path`` as BentoML serves it: images inline, other files as attachments."""
    media_type = mimetypes.guess_type(str(path))[0] or declared or OCTET_STREAM
    disposition = "inline" if media_type.startswith("image") else "attachment"
    return FileResponse(
        path, filename=path.name, media_type=media_type, content_disposition_type=disposition
    )


def encode_output(result: Any, content_type: str | None = None) -> Response:
    """str -> text/plain; Response passes through; generators stream; a Path is sent as the
    file; anything else -> JSON. ``content_type`` (a ``ContentType`` on the return
    annotation) types str, bytes and files."""
    if isinstance(result, Response):
        return result
    if isinstance(result, pathlib.PurePath):
        return file_response(result, content_type)
    if isinstance(result, str):
        if content_type is not None:
            return Response(result, media_type=content_type)
        return PlainTextResponse(result)
    if isinstance(result, bytes):
        return Response(result, media_type=content_type or "application/octet-stream")
    if inspect.isasyncgen(result):
        return StreamingResponse(_chunks_async(result), media_type="text/plain; charset=utf-8")
    if inspect.isgenerator(result):
        return StreamingResponse(_chunks(result), media_type="text/plain; charset=utf-8")
    # NaN and infinity are not JSON: null, as pydantic models serialise them.
    return Response(
        pydantic_core.to_json(result, inf_nan_mode="null"), media_type="application/json"
    )


def _encode_chunk(chunk: Any) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        return chunk.encode()
    return pydantic_core.to_json(chunk, inf_nan_mode="null") + b"\n"


async def _chunks_async(source: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    async for chunk in source:
        yield _encode_chunk(chunk)


def _chunks(source: Iterator[Any]) -> Iterator[bytes]:
    for chunk in source:
        yield _encode_chunk(chunk)
