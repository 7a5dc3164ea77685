"""``@api`` endpoints: the decorator, the input model built from the signature, the handler.

The decorator only marks the function, so the class stays a plain class:
``MyService().summarize("x")`` is an ordinary call. The service collects the
marks when it is created and builds each input model then, so a bad signature
fails at definition time.
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, TypeVar, overload

import pydantic
import pydantic_core
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from tiffin.exceptions import BentoMLConfigException, BentoMLException
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
    def input_model(self) -> type[pydantic.BaseModel]:
        """A pydantic model of the parameters after ``self``: defaults apply, extra keys ignored."""
        fields: dict[str, Any] = {}
        params = list(inspect.signature(self.func).parameters.values())[1:]
        for param in params:
            if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                raise BentoMLConfigException(
                    f"API {self.name!r}: parameter {param.name!r} of {self.func.__qualname__} "
                    "must be a named parameter (no *args, **kwargs or positional-only)"
                )
            annotation = self.type_hints.get(param.name, Any)
            default = ... if param.default is param.empty else param.default
            fields[param.name] = (annotation, default)
        model_name = self.func.__qualname__.replace(".", "_") + "_Input"
        config = pydantic.ConfigDict(extra="ignore", arbitrary_types_allowed=True)
        try:
            return pydantic.create_model(model_name, __config__=config, **fields)
        except Exception as exc:
            raise BentoMLConfigException(
                f"API {self.name!r}: cannot build an input model from the signature of "
                f"{self.func.__qualname__}: {exc}"
            ) from exc

    @property
    def output_annotation(self) -> Any:
        return self.type_hints.get("return", Any)


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

    def run_in_thread(
        self, scope: Scope, func: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Awaitable[Any]: ...


async def handle_api(
    spec: APISpec, runtime: APIRuntime, scope: Scope, receive: Receive, send: Send
) -> None:
    try:
        body = await Request(scope, receive).body()
    except ClientDisconnect:
        return
    try:
        arguments = spec.input_model.model_validate_json(body or b"{}")
    except pydantic.ValidationError as exc:
        await _invalid_input(spec, exc)(scope, receive, send)
        return
    kwargs = {name: getattr(arguments, name) for name in type(arguments).model_fields}
    try:
        result = await _call(spec, runtime, scope, kwargs)
    except BentoMLException as exc:
        await _user_error(spec, exc)(scope, receive, send)
        return
    await encode_output(result)(scope, receive, send)


async def _call(spec: APISpec, runtime: APIRuntime, scope: Scope, kwargs: dict[str, Any]) -> Any:
    if spec.is_stream:
        return spec.func(runtime.instance, **kwargs)
    if spec.is_async:
        return await spec.func(runtime.instance, **kwargs)
    return await runtime.run_in_thread(scope, spec.func, runtime.instance, **kwargs)


def _invalid_input(spec: APISpec, exc: pydantic.ValidationError) -> Response:
    errors = [_jsonable_error(error) for error in exc.errors(include_url=False)]
    kinds = {error["type"] for error in errors}
    if "json_invalid" in kinds:
        message = "The request body is not valid JSON"
    elif "model_type" in kinds:
        message = (
            f"API {spec.name!r} expects a JSON object keyed by parameter names, "
            f"such as {{{', '.join(repr(n) + ': ...' for n in spec.input_model.model_fields)}}}"
        )
    else:
        names = ", ".join(sorted({str(e["loc"][0]) for e in errors if e.get("loc")}))
        message = f"Invalid input for API {spec.name!r}: check parameter(s) {names}"
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


def encode_output(result: Any) -> Response:
    """str -> text/plain; Response passes through; generators stream; anything else -> JSON."""
    if isinstance(result, Response):
        return result
    if isinstance(result, str):
        return PlainTextResponse(result)
    if isinstance(result, bytes):
        return Response(result, media_type="application/octet-stream")
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
