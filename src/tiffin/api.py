"""``@api`` endpoints: the decorator and the input model built from the signature.

The decorator only marks the function, so the class stays a plain class:
``MyService().summarize("x")`` is an ordinary call. The service collects the
marks when it is created and builds each input model then, so a bad signature
fails at definition time. Serving a request is ``tiffin.api_handler``'s, loaded
with the app.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar, overload

import pydantic

from tiffin.api_files import content_type_of, file_input, list_file_fields
from tiffin.exceptions import BentoMLConfigException
from tiffin.request_context import is_context_parameter

API_MARK = "__tiffin_api__"

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
            # protected_namespaces=(): a parameter named model_id is an input like any other
            # (pydantic below 2.10 would warn about its "model_" prefix).
            config = pydantic.ConfigDict(
                extra="ignore", arbitrary_types_allowed=True, protected_namespaces=()
            )
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
