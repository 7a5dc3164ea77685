"""``tiffin.Context``: what an ``@api`` method sees of its request and sets on its response.

BentoML's ``bentoml.Context`` (``ServiceContext`` in ``bentoml/_internal/context.py``,
checked against 1.4.40), for an ``@api`` parameter named ``ctx`` or ``context``
(unannotated or annotated ``Context``), or any parameter annotated ``Context``:

- ``ctx.request``: the Starlette ``Request`` (headers, url, cookies, query params...)
- ``ctx.response``: ``status_code``, ``headers`` (alias ``metadata``), ``cookies``
  with ``set_cookie(...)``, ``background`` tasks run after the response
- ``ctx.state``: a dict shared by every request of one running service
- ``ctx.temp_dir``: a directory of this request's own, removed after the response

The parameter is no part of the input model, so it is neither read from the
request body nor shown in the OpenAPI document.
"""

from __future__ import annotations

import contextvars
import inspect
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

from starlette.background import BackgroundTasks
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response

_request: contextvars.ContextVar[Request] = contextvars.ContextVar("tiffin_request")
_response: contextvars.ContextVar[ResponseContext] = contextvars.ContextVar("tiffin_response")

CONTEXT_NAMES = ("ctx", "context")


@dataclass
class Cookie:
    key: str
    value: str
    max_age: int | None = None
    expires: int | None = None
    path: str = "/"
    domain: str | None = None
    secure: bool = False
    httponly: bool = False
    samesite: str = "lax"


@dataclass
class ResponseContext:
    """What the API sets on its response; applied after the method returns."""

    metadata: MutableHeaders = field(default_factory=MutableHeaders)
    cookies: list[Cookie] = field(default_factory=list)
    status_code: int = 200
    background: BackgroundTasks = field(default_factory=BackgroundTasks)

    @property
    def headers(self) -> MutableHeaders:
        return self.metadata

    @headers.setter
    def headers(self, headers: MutableHeaders) -> None:
        self.metadata = headers

    def set_cookie(
        self,
        key: str,
        value: str,
        max_age: int | None = None,
        expires: int | None = None,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str = "lax",
    ) -> None:
        self.cookies.append(
            Cookie(key, value, max_age, expires, path, domain, secure, httponly, samesite)
        )

    def apply(self, response: Response) -> None:
        """Status, headers and cookies onto ``response``; background tasks after it is sent."""
        response.status_code = self.status_code
        for key, value in self.metadata.items():
            response.headers[key] = value
        for cookie in self.cookies:
            response.set_cookie(
                cookie.key,
                cookie.value,
                max_age=cookie.max_age,
                expires=cookie.expires,
                path=cookie.path,
                domain=cookie.domain,
                secure=cookie.secure,
                httponly=cookie.httponly,
                samesite=cookie.samesite,  # type: ignore[arg-type]
            )
        if self.background.tasks:
            if response.background is not None:
                self.background.tasks.insert(0, response.background)
            response.background = self.background


class Context:
    """The ``ctx`` of an ``@api`` method; one per running service, its request per call."""

    def __init__(self) -> None:
        # Shared by every request of this running service (BentoML: of the process).
        self.state: dict[str, Any] = {}

    @property
    def request(self) -> Request:
        try:
            return _request.get()
        except LookupError:
            raise RuntimeError(
                "ctx.request is only available while an @api method serves a request"
            ) from None

    @property
    def response(self) -> ResponseContext:
        try:
            return _response.get()
        except LookupError:
            raise RuntimeError(
                "ctx.response is only available while an @api method serves a request"
            ) from None

    @property
    def temp_dir(self) -> str:
        """A directory of this request's own, removed once the response is sent."""
        self.request  # noqa: B018 - fails clearly outside a request
        return current_temp_dir()

    def __repr__(self) -> str:
        return f"<tiffin.Context state={sorted(self.state)}>"


def current_temp_dir() -> str:
    """The temporary directory of the request being served (made on first use)."""
    request = _request.get(None)
    if request is None:  # validation outside a request (a test building the model itself)
        return tempfile.gettempdir()
    directory = getattr(request.state, "tiffin_temp_dir", None)
    if directory is None:
        directory = tempfile.mkdtemp(prefix="tiffin-request-")
        request.state.tiffin_temp_dir = directory
    return str(directory)


class RequestScope:
    """Sets ``ctx.request``/``ctx.response`` for one API call; cleans up after the response."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.response = ResponseContext()
        self._tokens: tuple[Any, Any] | None = None

    def __enter__(self) -> ResponseContext:
        self._tokens = (_request.set(self.request), _response.set(self.response))
        return self.response

    def __exit__(self, *exc_info: object) -> None:
        assert self._tokens is not None
        _request.reset(self._tokens[0])
        _response.reset(self._tokens[1])

    def cleanup(self) -> None:
        directory = getattr(self.request.state, "tiffin_temp_dir", None)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def is_context_parameter(name: str, annotation: Any) -> bool:
    """BentoML's rule (``ctx``/``context``, unannotated or annotated ``Context``); tiffin
    also takes any parameter annotated ``Context``."""
    if annotation is Context:
        return True
    return name in CONTEXT_NAMES and annotation is inspect.Parameter.empty
