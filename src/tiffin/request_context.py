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
request body nor shown in the OpenAPI document. What a call sets on its
response is kept by ``tiffin.request_scope``, loaded when requests are served.
"""

from __future__ import annotations

import contextvars
import inspect
import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.requests import Request

    from tiffin.request_scope import RequestScope, ResponseContext

# The API call being served; set by ``tiffin.request_scope.RequestScope``, which is
# loaded with the app (it needs Starlette's request and response classes).
CURRENT_CALL: contextvars.ContextVar[RequestScope] = contextvars.ContextVar("tiffin_api_call")

CONTEXT_NAMES = ("ctx", "context")


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
    call = CURRENT_CALL.get(None)
    if call is None:
        raise RuntimeError(
            f"ctx.{attribute} is only available while an @api method serves a request"
        )
    return call


def current_temp_dir() -> str:
    """The temporary directory of the API call being served (made on first use)."""
    call = CURRENT_CALL.get(None)
    if call is None:  # validation outside a request (a test building the model itself)
        return tempfile.gettempdir()
    return call.temp_dir()


def is_context_parameter(name: str, annotation: Any) -> bool:
    """BentoML's rule (``ctx``/``context``, unannotated or annotated ``Context``); tiffin
    also takes any parameter annotated ``Context``."""
    if annotation is Context:
        return True
    return name in CONTEXT_NAMES and annotation is inspect.Parameter.empty
