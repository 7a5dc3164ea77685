"""``depends(url=...)``: a service served elsewhere, called over HTTP with httpx.

The surface is BentoML's ``RemoteProxy`` (``_bentoml_impl/client/proxy.py``,
1.4.40): ``proxy.to_sync.api(...)`` blocks, ``proxy.to_async.api(...)`` is
awaited (a streaming API gives an iterator of text chunks), and when the
service's class is known (``depends(Other, url=...)``) ``proxy.api(...)`` is
sync or async as ``Other``'s method is. Keyword arguments become the JSON body
of ``POST {url}/{route}``; positional ones are named by ``Other``'s signature.
An error answer raises the ``tiffin.exceptions`` class of its status with the
server's ``error`` message.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pydantic

from tiffin import exceptions
from tiffin.exceptions import BentoMLException

if TYPE_CHECKING:
    from tiffin.api import APISpec
    from tiffin.service import Service

DEFAULT_TIMEOUT = 60.0


def _error_for(response: httpx.Response) -> BentoMLException:
    try:
        message = str(response.json().get("error", response.text))
    except (ValueError, AttributeError):
        message = response.text
    for candidate in vars(exceptions).values():
        if (
            isinstance(candidate, type)
            and issubclass(candidate, BentoMLException)
            and candidate.__module__ == exceptions.__name__
            and candidate.error_code == response.status_code
        ):
            return candidate(message)
    return BentoMLException(f"{response.status_code}: {message}")


class _Endpoint:
    """One API of the remote service: its route, argument names and output type."""

    def __init__(self, name: str, spec: APISpec | None) -> None:
        self.name = name
        self.spec = spec
        self.route = spec.route if spec is not None else f"/{name}"
        self.is_stream = spec.is_stream if spec is not None else False
        self.is_async = spec.is_async if spec is not None else False

    def body(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if not args:
            return kwargs
        if self.spec is None:
            raise TypeError(
                f"{self.name}(): pass keyword arguments; positional ones need the service "
                "class (depends(TheService, url=...)) to know their names"
            )
        names = [p for p in inspect.signature(self.spec.func).parameters if p != "self"]
        if len(args) > len(names):
            raise TypeError(f"{self.name}() takes {len(names)} arguments, got {len(args)}")
        return {**dict(zip(names, args, strict=False)), **kwargs}

    def decode(self, response: httpx.Response) -> Any:
        if response.is_error:
            raise _error_for(response)
        media = response.headers.get("content-type", "")
        if media.startswith("application/json"):
            value = response.json()
            output = self.spec.output_annotation if self.spec is not None else None
            if isinstance(output, type) and issubclass(output, pydantic.BaseModel):
                return output.model_validate(value)
            return value
        if media.startswith("text/"):
            return response.text
        return response.content


class _Namespace:
    def __init__(self, proxy: RemoteProxy) -> None:
        self._proxy = proxy

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._method(self._proxy.endpoint(name))

    def _method(self, endpoint: _Endpoint) -> Any:
        raise NotImplementedError


class SyncRemoteCalls(_Namespace):
    def _method(self, endpoint: _Endpoint) -> Any:
        client = self._proxy.sync_client

        def call(*args: Any, **kwargs: Any) -> Any:
            body = endpoint.body(args, kwargs)
            response = client.post(endpoint.route, json=body)
            return endpoint.decode(response)

        def stream(*args: Any, **kwargs: Any) -> Iterator[str]:
            body = endpoint.body(args, kwargs)
            with client.stream("POST", endpoint.route, json=body) as response:
                if response.is_error:
                    response.read()
                    raise _error_for(response)
                yield from response.iter_text()

        return stream if endpoint.is_stream else call


class AsyncRemoteCalls(_Namespace):
    def _method(self, endpoint: _Endpoint) -> Any:
        client = self._proxy.async_client

        async def call(*args: Any, **kwargs: Any) -> Any:
            body = endpoint.body(args, kwargs)
            response = await client.post(endpoint.route, json=body)
            return endpoint.decode(response)

        async def stream(*args: Any, **kwargs: Any) -> AsyncIterator[str]:
            body = endpoint.body(args, kwargs)
            async with client.stream("POST", endpoint.route, json=body) as response:
                if response.is_error:
                    await response.aread()
                    raise _error_for(response)
                async for chunk in response.aiter_text():
                    yield chunk

        return stream if endpoint.is_stream else call


class RemoteProxy:
    """The APIs of the service at ``url`` as methods (BentoML's ``RemoteProxy`` surface)."""

    def __init__(self, url: str, *, service: Service[Any] | None = None) -> None:
        self.url = url.rstrip("/")
        self.service = service
        self._specs = (
            {spec.func.__name__: spec for spec in service.apis.values()} if service else {}
        )
        timeout = service.config.traffic.timeout * 1.01 if service else DEFAULT_TIMEOUT
        self._timeout = httpx.Timeout(timeout)
        self._sync: httpx.Client | None = None
        self._async: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"<tiffin.RemoteProxy of {self.url}>"

    @property
    def sync_client(self) -> httpx.Client:
        if self._sync is None:
            self._sync = httpx.Client(base_url=self.url, timeout=self._timeout)
        return self._sync

    @property
    def async_client(self) -> httpx.AsyncClient:
        if self._async is None:
            self._async = httpx.AsyncClient(base_url=self.url, timeout=self._timeout)
        return self._async

    def endpoint(self, name: str) -> _Endpoint:
        if self._specs and name not in self._specs:
            raise AttributeError(
                f"{name!r} is not an API of service {self.service.name!r}"  # type: ignore[union-attr]
                f"; its APIs: {', '.join(sorted(self._specs))}"
            )
        return _Endpoint(name, self._specs.get(name))

    @property
    def to_sync(self) -> SyncRemoteCalls:
        return SyncRemoteCalls(self)

    @property
    def to_async(self) -> AsyncRemoteCalls:
        return AsyncRemoteCalls(self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self.service is None:
            raise BentoMLException(
                f"the proxy of {self.url} does not know which of its APIs are async: call "
                f"proxy.to_sync.{name}(...) or await proxy.to_async.{name}(...), or name the "
                "service with depends(TheService, url=...)"
            )
        endpoint = self.endpoint(name)
        namespace = self.to_async if endpoint.is_async else self.to_sync
        return getattr(namespace, name)

    async def is_ready(self) -> bool:
        try:
            response = await self.async_client.get("/readyz")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def close(self) -> None:
        """Close the sync client (a proxy made outside a running service, used from sync code)."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
            self._async = None
        if self._sync is not None:
            self._sync.close()
            self._sync = None
