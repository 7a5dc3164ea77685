"""``@api`` endpoints: the decorator, the input model built from the signature, the handler.

The decorator only marks the function, so the class stays a plain class:
``MyService().summarize("x")`` is an ordinary call. The service collects the
marks when it is created and builds each input model then, so a bad signature
fails at definition time.
"""

from __future__ import annotations

import inspect
import io
import logging
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, TypeVar, overload

import pydantic
import pydantic_core
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tiffin.api_io import (
    FORM_TYPES,
    content_type_of,
    encode_output,
    file_input,
    form_input,
    list_file_fields,
    media_type_of,
)
from tiffin.exceptions import BentoMLConfigException, BentoMLException
from tiffin.request_context import Context, RequestScope, is_context_parameter
from tiffin.responses import GENERIC_ERROR, json_error

API_MARK = "__tiffin_api__"
logger = logging.getLogger("tiffin")

_Func = TypeVar("_Func", bound=Callable[..., Any])


@dataclass
class APISpec:
    """One ``@api`` method: its name, its route, and how its input is checked."""

    func: Callable[..., Any]
    name: str
    route: str
    is_async: bool = field(init=False)
    is_stream: bool = field(init=False)
    _file_fields: dict[str, bool] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.is_stream = inspect.isasyncgenfunction(self.func) or inspect.isgeneratorfunction(
            self.func
        )
        self.is_async = inspect.iscoroutinefunction(self.func) or inspect.isasyncgenfunction(
            self.func
        )

    @cached_property
    def type_hints(self) -> dict[str, Any]:
        try:
            return typing.get_type_hints(self.func, include_extras=True)
        except Exception as exc:
            raise BentoMLConfigException(
                f"API {self.name!r}: cannot resolve the annotations of "
                f"{self.func.__qualname__}: {exc}"
            ) from exc

    @cached_property
    def parameters(self) -> list[inspect.Parameter]:
        """The parameters after ``self``, with the ``Context`` one (if any) left out."""
        params = list(inspect.signature(self.func).parameters.values())[1:]
        return [p for p in params if p.name != self.context_param]

    @cached_property
    def context_param(self) -> str | None:
        """The parameter that receives ``tiffin.Context``, by BentoML's rule."""
        params = list(inspect.signature(self.func).parameters.values())[1:]
        for param in params:
            annotation = self.type_hints.get(param.name, param.annotation)
            if is_context_parameter(param.name, annotation):
                return param.name
        return None

    @cached_property
    def root_param(self) -> str | None:
        """The positional-only parameter that takes the whole body (BentoML's root input)."""
        positional = [p for p in self.parameters if p.kind is p.POSITIONAL_ONLY]
        if not positional:
            return None
        others = [p.name for p in self.parameters if p.kind is not p.POSITIONAL_ONLY]
        if len(positional) > 1 or others:
            raise BentoMLConfigException(
                f"API {self.name!r}: {self.func.__qualname__} has a positional-only parameter "
                f"{positional[0].name!r} (root input: it takes the whole request body), so it "
                f"can have no other input parameter; found "
                f"{', '.join(p.name for p in positional[1:]) or ', '.join(others)}"
            )
        return positional[0].name

    @cached_property
    def file_fields(self) -> dict[str, bool]:
        """Parameters that are files (multipart uploads), each with whether it takes a list."""
        self.input_model  # noqa: B018 - built there
        return self._file_fields

    @cached_property
    def input_media_type(self) -> str:
        """What the request body is: JSON, a form with uploads, or the root input's own type."""
        root = self.root_param
        if root is not None:
            annotation = self.type_hints.get(root, Any)
            if self.file_fields:
                return content_type_of(annotation) or "application/octet-stream"
            return "text/plain" if annotation is str else "application/json"
        return "multipart/form-data" if self.file_fields else "application/json"

    @cached_property
    def input_model(self) -> type[pydantic.BaseModel]:
        """A pydantic model of the input: defaults apply, extra keys ignored.

        For a root input it is a ``RootModel`` of that parameter's type.
        """
        fields: dict[str, Any] = {}
        files: dict[str, Any] = {}
        for param in self.parameters:
            if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY) and not (
                param.kind is param.POSITIONAL_ONLY and param.name == self.root_param
            ):
                raise BentoMLConfigException(
                    f"API {self.name!r}: parameter {param.name!r} of {self.func.__qualname__} "
                    "must be a named parameter (no *args or **kwargs)"
                )
            annotation, is_file = file_input(self.type_hints.get(param.name, Any))
            if is_file:
                files[param.name] = annotation
            default = ... if param.default is param.empty else param.default
            fields[param.name] = (annotation, default)
        self._file_fields = list_file_fields(files)
        model_name = self.func.__qualname__.replace(".", "_") + "_Input"
        try:
            if self.root_param is not None:
                annotation, default = fields[self.root_param]
                root: Any = pydantic.RootModel[annotation]  # type: ignore[valid-type]
                extra: dict[str, Any] = {} if default is ... else {"root": (annotation, default)}
                model: type[pydantic.BaseModel] = pydantic.create_model(
                    model_name, __base__=root, **extra
                )
                return model
            config = pydantic.ConfigDict(extra="ignore", arbitrary_types_allowed=True)
            return pydantic.create_model(model_name, __config__=config, **fields)
        except BentoMLConfigException:
            raise
        except Exception as exc:
            raise BentoMLConfigException(
                f"API {self.name!r}: cannot build an input model from the signature of "
                f"{self.func.__qualname__}: {exc}"
            ) from exc

    @property
    def output_annotation(self) -> Any:
        return self.type_hints.get("return", Any)

    @cached_property
    def output_content_type(self) -> str | None:
        """``ContentType`` of ``-> Annotated[..., ContentType(...)]``: a file's fallback type."""
        return content_type_of(self.output_annotation)


@overload
def api(func: _Func, /) -> _Func: ...
@overload
def api(
    func: None = None, /, *, route: str | None = None, name: str | None = None
) -> Callable[[_Func], _Func]: ...
def api(
    func: Callable[..., Any] | None = None,
    /,
    *,
    route: str | None = None,
    name: str | None = None,
    **unsupported: Any,
) -> Any:
    """Serve a method as ``POST {prefix}/{route}`` (the route defaults to ``/{name}``)."""

    def decorator(method: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.isfunction(method):
            raise BentoMLConfigException(f"@api decorates a method, got {method!r}")
        if unsupported:
            raise BentoMLConfigException(
                f"API {method.__qualname__}: @api got unsupported argument(s) "
                f"{', '.join(sorted(unsupported))}; tiffin's @api takes route= and name="
            )
        api_name = name or method.__name__
        api_route = f"/{api_name}" if route is None else route
        if not isinstance(api_route, str) or not api_route.startswith("/"):
            raise BentoMLConfigException(
                f"API {method.__qualname__}: route must be a string starting with '/', "
                f"got {api_route!r}"
            )
        if api_route != "/":
            api_route = api_route.rstrip("/")
        setattr(method, API_MARK, APISpec(func=method, name=api_name, route=api_route))
        return method

    return decorator if func is None else decorator(func)


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
