"""The harness's clients: httpx clients that also call a service's APIs by name.

``await client.call("summarize", text="...")`` (``TiffinAsyncClient``) and
``client.call("summarize", text="...")`` (``TiffinClient``) POST the inputs as
JSON to the API's route, as ``bentoml.SyncHTTPClient.call`` does, and return the
decoded result: JSON as Python values, text as ``str``, anything else as
``bytes``. A status that is not 2xx raises ``APIError`` carrying the status and
the body. ``client.service`` is the running instance of the service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx


class APIError(AssertionError):
    """An API answered a status that is not 2xx; ``status_code`` and ``body`` say what."""

    def __init__(self, api_name: str, response: httpx.Response) -> None:
        self.api_name = api_name
        self.status_code = response.status_code
        self.body = response.content
        self.response = response
        text = response.text if len(response.content) <= 500 else response.text[:500] + "..."
        super().__init__(f"tiffin: API {api_name!r} answered {response.status_code}: {text}")


def api_routes(service: Any) -> dict[str, str]:
    """``{api name: path}`` of a tiffin or a BentoML service, its path prefix included."""
    from tiffin.service import Service

    if isinstance(service, Service):
        prefix = service.config.path_prefix
        return {spec.name: prefix + spec.route for spec in service.apis.values()}
    apis = getattr(service, "apis", None)  # a BentoML service: {name: APIMethod with .route}
    if isinstance(apis, Mapping):
        return {name: getattr(method, "route", f"/{name}") for name, method in apis.items()}
    return {}


def instance_of(app: Any) -> Any:
    """The running instance of the service ``app`` (a composed tiffin app) serves."""
    runtime = getattr(app, "runtime", None)
    if runtime is None:
        raise AttributeError(
            "tiffin: client.service is the running instance of a tiffin service; "
            f"this client talks to {app!r}, which does not say"
        )
    return runtime.instance


class _Calls:
    """What both clients share: the route table, the instance, decoding."""

    def __init__(
        self,
        *,
        service_name: str = "?",
        routes: Mapping[str, str] | None = None,
        instance: Callable[[], Any] = lambda: None,
        **options: Any,
    ) -> None:
        super().__init__(**options)  # the httpx client's own options
        self._service_name = service_name
        self._routes = dict(routes or {})
        self._instance = instance

    @property
    def service(self) -> Any:
        """The running instance of the service (what ``self`` is in its methods)."""
        return self._instance()

    def _route(self, api_name: str) -> str:
        try:
            return self._routes[api_name]
        except KeyError:
            known = ", ".join(map(repr, sorted(self._routes))) or "none"
            raise ValueError(
                f"tiffin: service {self._service_name!r} has no API {api_name!r}; its APIs: {known}"
            ) from None

    @staticmethod
    def _decode(api_name: str, response: httpx.Response) -> Any:
        if not response.is_success:
            raise APIError(api_name, response)
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if content_type == "application/json" or content_type.endswith("+json"):
            return response.json()
        if content_type.startswith("text/"):
            return response.text
        return response.content


class TiffinAsyncClient(_Calls, httpx.AsyncClient):
    """The ``httpx.AsyncClient`` of ``tiffin_client``: also ``call()`` and ``service``."""

    async def call(self, api_name: str, /, **inputs: Any) -> Any:
        """POST ``inputs`` as JSON to the API ``api_name``; the decoded result."""
        response = await self.post(self._route(api_name), json=inputs)
        return self._decode(api_name, response)


class TiffinClient(_Calls, httpx.Client):
    """The ``httpx.Client`` of ``tiffin_sync_client``: also ``call()`` and ``service``."""

    def call(self, api_name: str, /, **inputs: Any) -> Any:
        """POST ``inputs`` as JSON to the API ``api_name``; the decoded result."""
        response = self.post(self._route(api_name), json=inputs)
        return self._decode(api_name, response)
