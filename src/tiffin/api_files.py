"""File parameters and outputs of an ``@api``, read from its annotations (BentoML 1.4.40).

- A parameter annotated ``pathlib.Path`` (``Annotated[Path, ContentType(...)]``,
  a list of them, ``Path | None``) is a file: an upload of a
  ``multipart/form-data`` form, or the raw body of a root input. It reaches the
  method as a ``Path`` to a copy in the request's own temporary directory,
  removed after the response. A JSON string is never taken as a server path
  (BentoML passes it through; that reads any file the client names).
- ``-> Path`` is sent as the file (``tiffin.api_io``), typed by the
  ``ContentType`` of the return annotation when its name says nothing.

Used when a service is defined, to build the input models; how a request's body
is read and a result encoded is ``tiffin.api_io``, loaded when one is served.
"""

from __future__ import annotations

import fnmatch
import os
import pathlib
import tempfile
import types
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic_core import PydanticCustomError, core_schema

from tiffin.request_context import current_temp_dir
from tiffin.validators import ContentType

if TYPE_CHECKING:
    from pydantic import GetJsonSchemaHandler

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


@dataclass(frozen=True)
class FileInput:
    """The validator of a file parameter: an upload (or raw bytes) becomes a ``Path``."""

    content_type: str | None = None

    def decode(self, value: Any) -> pathlib.Path:
        if isinstance(value, pathlib.PurePath):  # a Python caller passing a path
            return pathlib.Path(value)
        # Loaded with the first request: an upload only exists while one is served.
        from starlette.datastructures import UploadFile

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


def list_file_fields(fields: dict[str, Any]) -> dict[str, bool]:
    """For each file field, whether it takes a list (so a lone upload becomes a list)."""
    found = {}
    for name, annotation in fields.items():
        inner = annotation
        if typing.get_origin(inner) in (Union, types.UnionType):
            inner = next((a for a in typing.get_args(inner) if a is not type(None)), inner)
        found[name] = typing.get_origin(inner) in (list, typing.List)  # noqa: UP006
    return found
