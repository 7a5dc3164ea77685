"""How an ``@api`` reads its input and encodes its output, as BentoML's IO types do (1.4.40).

- Named parameters: a JSON object keyed by parameter names, or, when a parameter
  is a file (``pathlib.Path``, ``Annotated[Path, ContentType(...)]``, a list of
  them), a ``multipart/form-data`` form: file fields are uploads, other fields
  JSON (or plain text).
- Root input (one positional-only parameter): the whole body is the value; raw
  text for ``str``, the raw bytes for a file, JSON otherwise.
- A file input reaches the method as a ``Path`` to a copy in the request's own
  temporary directory, removed after the response. A JSON string is never taken
  as a server path (BentoML passes it through; that reads any file the client names).
- A ``Path`` returned is sent as the file, its content type guessed from its name,
  else the ``ContentType`` of the return annotation, else ``application/octet-stream``.
- Other output: ``str`` -> text/plain; a Starlette ``Response`` passes through;
  generators stream chunk by chunk; anything else -> JSON.
"""

from __future__ import annotations

import fnmatch
import inspect
import json
import mimetypes
import os
import pathlib
import tempfile
import types
import typing
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Union

import pydantic_core
from pydantic import GetJsonSchemaHandler
from pydantic_core import PydanticCustomError, core_schema
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse

from tiffin.request_context import current_temp_dir
from tiffin.validators import ContentType

FILE_TYPES = frozenset(
    {
        pathlib.Path,
        pathlib.PurePath,
        pathlib.PosixPath,
        pathlib.PurePosixPath,
        pathlib.WindowsPath,
        pathlib.PureWindowsPath,
    }
)
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True)
class FileInput:
    """The validator of a file parameter: an upload (or raw bytes) becomes a ``Path``."""

    content_type: str | None = None

    def decode(self, value: Any) -> pathlib.Path:
        if isinstance(value, pathlib.PurePath):  # a Python caller passing a path
            return pathlib.Path(value)
        filename: str | None = None
        media_type: str | None = None
        if isinstance(value, UploadFile):
            value.file.seek(0)
            body = value.file.read()
            filename, media_type = value.filename, value.content_type
        elif isinstance(value, bytes | bytearray):
            body = bytes(value)
        else:
            raise PydanticCustomError(
                "file_type",
                "expected a file: send it as a multipart/form-data upload, got {kind}",
                {"kind": type(value).__name__},
            )
        if media_type and self.content_type and not fnmatch.fnmatch(media_type, self.content_type):
            raise PydanticCustomError(
                "file_content_type",
                "invalid content type {got}, expected {expected}",
                {"got": media_type, "expected": self.content_type},
            )
        name = os.path.basename(filename) if filename else "upload"
        directory = tempfile.mkdtemp(dir=current_temp_dir())
        path = pathlib.Path(directory, name)
        path.write_bytes(body)
        return path

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.decode)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        found: dict[str, Any] = {"type": "string", "format": "binary"}
        if self.content_type:
            found["contentMediaType"] = self.content_type
        return found


def file_input(annotation: Any) -> tuple[Any, bool]:
    """``annotation`` with each file type in it validated as an upload; whether it held one.

    Handles ``Path``, ``Annotated[Path, ContentType(...)]``, ``list[Path]`` and
    ``Path | None``, the shapes BentoML's IO types accept.
    """
    if annotation in FILE_TYPES:
        return Annotated[pathlib.Path, FileInput()], True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        base, *metadata = args
        if base in FILE_TYPES:
            content = next((m.content_type for m in metadata if isinstance(m, ContentType)), None)
            rest = [m for m in metadata if not isinstance(m, ContentType)]
            return Annotated[(pathlib.Path, FileInput(content), *rest)], True
        return annotation, False
    if origin in (list, typing.List) and len(args) == 1:  # noqa: UP006
        inner, found = file_input(args[0])
        return (list[inner] if found else annotation), found  # type: ignore[valid-type]
    if origin in (Union, types.UnionType):
        rewritten = [file_input(arg) for arg in args]
        if any(found for _, found in rewritten):
            return Union[tuple(new for new, _ in rewritten)], True  # noqa: UP007
    return annotation, False


def is_file_output(annotation: Any) -> bool:
    """``-> Path`` or ``-> Annotated[Path, ContentType(...)]``."""
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation in FILE_TYPES


def content_type_of(annotation: Any) -> str | None:
    """The ``ContentType`` in ``Annotated[..., ContentType(...)]``, if any."""
    if typing.get_origin(annotation) is Annotated:
        for metadata in typing.get_args(annotation)[1:]:
            if isinstance(metadata, ContentType):
                return metadata.content_type
    return None


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


def list_file_fields(fields: dict[str, Any]) -> dict[str, bool]:
    """For each file field, whether it takes a list (so a lone upload becomes a list)."""
    found = {}
    for name, annotation in fields.items():
        inner = annotation
        if typing.get_origin(inner) in (Union, types.UnionType):
            inner = next((a for a in typing.get_args(inner) if a is not type(None)), inner)
        found[name] = typing.get_origin(inner) in (list, typing.List)  # noqa: UP006
    return found


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
