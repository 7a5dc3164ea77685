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

_call: contextvars.ContextVar[RequestScope] = contextvars.ContextVar("tiffin_api_call")

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
        return _current_call("request").request

    @property
    def response(self) -> ResponseContext:
        return _current_call("response").response

    @property
    def temp_dir(self) -> str:
        """A directory of this request's own, removed once the response is sent."""
        return _current_call("temp_dir").temp_dir()

    def __repr__(self) -> str:
        return f"<tiffin.Context state={sorted(self.state)}>"


def _current_call(attribute: str) -> RequestScope:
    call = _call.get(None)
    if call is None:
        raise RuntimeError(
            f"ctx.{attribute} is only available while an @api method serves a request"
        )
    return call


def current_temp_dir() -> str:
    """The temporary directory of the API call being served (made on first use)."""
    call = _call.get(None)
    if call is None:  # validation outside a request (a test building the model itself)
        return tempfile.gettempdir()
    return call.temp_dir()


class RequestScope:
    """Sets ``ctx.request``/``ctx.response`` for one API call; cleans up after the response."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.response = ResponseContext()
        self._temp_dir: str | None = None
        self._token: contextvars.Token[RequestScope] | None = None

    def temp_dir(self) -> str:
        if self._temp_dir is None:
            self._temp_dir = tempfile.mkdtemp(prefix="tiffin-request-")
        return self._temp_dir

    def __enter__(self) -> ResponseContext:
        self._token = _call.set(self)
        return self.response

    def __exit__(self, *exc_info: object) -> None:
        assert self._token is not None
        _call.reset(self._token)

    def cleanup(self) -> None:
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)


def is_context_parameter(name: str, annotation: Any) -> bool:
    """BentoML's rule (``ctx``/``context``, unannotated or annotated ``Context``); tiffin
    also takes any parameter annotated ``Context``."""
    if annotation is Context:
        return True
    return name in CONTEXT_NAMES and annotation is inspect.Parameter.empty
