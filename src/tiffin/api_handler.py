"""``handle_api``: one request to an ``@api`` method, from its body to its response.

Reads the input as the ``APISpec`` built at definition time says, calls the
method (in a thread when it is sync), and encodes what it returns
(``tiffin.api_io``); invalid input is a 400 whose message starts as BentoML's.
"""

from __future__ import annotations

import inspect
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Protocol

import pydantic
import pydantic_core
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tiffin.api import APISpec
from tiffin.api_io import FORM_TYPES, encode_output, form_input, media_type_of
from tiffin.exceptions import BentoMLException
from tiffin.request_context import Context
from tiffin.request_scope import RequestScope
from tiffin.responses import GENERIC_ERROR, json_error

logger = logging.getLogger("tiffin")


class APIRuntime(Protocol):
    """What an API handler needs from the running service."""

    instance: Any
    context: Context

    def run_in_thread(
        self, scope: Scope, func: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Awaitable[Any]: ...


async def handle_api(
    spec: APISpec, runtime: APIRuntime, scope: Scope, receive: Receive, send: Send
) -> None:
    request = Request(scope, receive)
    call = RequestScope(request)
    try:
        with call as response_context:
            try:
                args, kwargs = await _read_input(spec, request)
            except ClientDisconnect:
                return
            except pydantic.ValidationError as exc:
                await _invalid_input(spec, exc)(scope, receive, send)
                return
            except MultiPartException as exc:
                await json_error(400, f"API {spec.name!r}: invalid form: {exc.message}")(
                    scope, receive, send
                )
                return
            if spec.context_param is not None:
                kwargs[spec.context_param] = runtime.context
            try:
                result = await _call(spec, runtime, scope, args, kwargs)
                if spec.is_stream and spec.context_param is not None:
                    # As BentoML: the stream runs to its first chunk before the response
                    # starts, so what it sets on ctx.response before that is sent.
                    result = await _first_chunk_ahead(result, runtime, scope)
            except BentoMLException as exc:
                await _user_error(spec, exc)(scope, receive, send)
                return
            response = encode_output(result, spec.output_content_type)
            if spec.context_param is not None:
                response_context.apply(response)
            await response(scope, receive, send)
    finally:
        await request.close()  # the uploads of a form
        call.cleanup()


async def _read_input(spec: APISpec, request: Request) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments of the call: ``(root,)`` for a root input, else keyword arguments."""
    model = spec.input_model
    if spec.root_param is not None:
        body = await request.body()
        if spec.file_fields:
            upload = UploadFile(
                io.BytesIO(body),
                filename=request.headers.get("x-filename"),
                headers=request.headers,
            )
            return (model.model_validate(upload).root,), {}  # type: ignore[attr-defined]
        if spec.input_media_type == "text/plain":
            return (model.model_validate(body.decode(errors="replace")).root,), {}  # type: ignore[attr-defined]
        if not body and not model.model_fields["root"].is_required():
            return (model().root,), {}  # type: ignore[attr-defined]
        return (model.model_validate_json(body).root,), {}  # type: ignore[attr-defined]
    if spec.file_fields and media_type_of(request) in FORM_TYPES:
        arguments = model.model_validate(await form_input(request, spec.file_fields))
    else:
        arguments = model.model_validate_json(await request.body() or b"{}")
    return (), {name: getattr(arguments, name) for name in type(arguments).model_fields}


async def _call(
    spec: APISpec,
    runtime: APIRuntime,
    scope: Scope,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    if spec.is_stream:
        return spec.func(runtime.instance, *args, **kwargs)
    if spec.is_async:
        return await spec.func(runtime.instance, *args, **kwargs)
    return await runtime.run_in_thread(scope, spec.func, runtime.instance, *args, **kwargs)


async def _first_chunk_ahead(stream: Any, runtime: APIRuntime, scope: Scope) -> Any:
    """``stream`` with its first chunk already produced (run in a thread for a sync one)."""
    if inspect.isasyncgen(stream):
        try:
            first = await stream.__anext__()
        except StopAsyncIteration:
            return stream

        async def resumed() -> AsyncIterator[Any]:
            yield first
            async for chunk in stream:
                yield chunk

        return resumed()
    done = object()
    first_sync = await runtime.run_in_thread(scope, next, stream, done)
    if first_sync is done:
        return stream

    def resumed_sync() -> Iterator[Any]:
        yield first_sync
        yield from stream

    return resumed_sync()


def _invalid_input(spec: APISpec, exc: pydantic.ValidationError) -> Response:
    """400, its message starting as BentoML's (``1 validation error for X``), then tiffin's hint.

    Clients of BentoML services match that start; the hint says what to fix.
    """
    errors = [_jsonable_error(error) for error in exc.errors(include_url=False)]
    kinds = {error["type"] for error in errors}
    if "json_invalid" in kinds:
        hint = "The request body is not valid JSON"
    elif "model_type" in kinds:
        hint = (
            f"API {spec.name!r} expects a JSON object keyed by parameter names, "
            f"such as {{{', '.join(repr(n) + ': ...' for n in spec.input_model.model_fields)}}}"
        )
    elif spec.root_param is not None:
        hint = f"Invalid input for API {spec.name!r}: check the request body"
    else:
        names = ", ".join(sorted({str(e["loc"][0]) for e in errors if e.get("loc")}))
        hint = f"Invalid input for API {spec.name!r}: check parameter(s) {names}"
    # BentoML writes "validation error" whatever the count (app.py, api_endpoint_wrapper).
    message = f"{exc.error_count()} validation error for {exc.title}: {hint}"
    return json_error(400, message, detail=errors)


def _jsonable_error(error: pydantic_core.ErrorDetails) -> Any:
    """One pydantic error as JSON, whatever the client sent.

    A body that is not UTF-8 is shown with replacement characters and an
    out-of-range number (``1e400`` parses as infinity) as null.
    """
    details: dict[str, Any] = dict(error)
    if isinstance(details.get("input"), bytes):
        details["input"] = details["input"].decode(errors="replace")
    return pydantic_core.to_jsonable_python(details, inf_nan_mode="null", fallback=str)


def _user_error(spec: APISpec, exc: BentoMLException) -> Response:
    status = int(exc.error_code)
    if status < 500:
        return json_error(status, exc.message or str(exc) or type(exc).__name__)
    logger.error("API %r raised %s", spec.name, type(exc).__name__, exc_info=exc)
    return json_error(status, GENERIC_ERROR)
