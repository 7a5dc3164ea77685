"""One API call's scope: what ``ctx.request``/``ctx.response`` answer while it is served.

``RequestScope`` makes the call current for ``tiffin.Context``
(``tiffin.request_context``), collects what the method sets on its response
(``ResponseContext``: status, headers, cookies, background tasks) and removes
the call's temporary directory after the response.
"""

from __future__ import annotations

import contextvars
import shutil
import tempfile
from dataclasses import dataclass, field

from starlette.background import BackgroundTasks
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response

from tiffin.request_context import CURRENT_CALL


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
        self._token = CURRENT_CALL.set(self)
        return self.response

    def __exit__(self, *exc_info: object) -> None:
        assert self._token is not None
        CURRENT_CALL.reset(self._token)

    def cleanup(self) -> None:
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
