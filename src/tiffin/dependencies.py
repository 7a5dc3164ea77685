"""``tiffin.depends(Other)``: one service using another, composed in one process.

As BentoML's ``bentoml.depends`` (``_bentoml_sdk/service/dependency.py``,
1.4.40), ``depends(Other)`` is a class attribute of the dependent; reading it
on the instance gives a proxy whose methods are ``Other``'s APIs. BentoML serves
each service of the graph as a process of its own and calls over HTTP; tiffin
runs the whole graph in the dependent's process instead:

- The dependent's startup starts every service it depends on, deepest first,
  each once per graph (a diamond shares its bottom), each with its whole
  lifespan (``__init__``, ``on_startup`` hooks, mounted apps), before the
  dependent's ``__init__``. They stop after the dependent's shutdown, in reverse.
- ``proxy.api(...)`` calls the running instance's method as it is (a sync API is
  a plain call, an async one returns a coroutine); ``proxy.to_async.api(...)``
  is always awaitable and ``proxy.to_sync.api(...)`` always blocking, as
  BentoML's ``RemoteProxy`` offers. Inside the call ``get_current_service()``
  is the dependency's instance.
- ``depends(url=...)`` calls a remote service over HTTP (``tiffin.remote_proxy``).
- ``depends(deployment=...)`` and ``cluster=`` need BentoCloud: a clear error.
- A test replaces a dependency with ``Service.to_asgi(dependencies={Other: Fake})``
  (a service, started in its place, or any object, used as it is).
- Outside a running graph (``MyService()`` in a test), the attribute is a plain
  instance of ``Other``, as BentoML gives (``Dependency.get`` calls ``on()``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tiffin import context
from tiffin.exceptions import BentoMLConfigException

# The proxies (``tiffin.local_proxy``, with asyncio) are imported by the two functions
# that make them: when a graph starts, or a plain instance is made outside one.

if TYPE_CHECKING:
    from tiffin.remote_proxy import RemoteProxy
    from tiffin.service import Service

T = TypeVar("T")

CLOUD_ONLY = (
    "depends(deployment=...) and depends(cluster=...) name a BentoCloud deployment, which "
    "tiffin cannot reach; use depends(url='http://host:port') for a service served elsewhere, "
    "or depends(TheService) to run it in this process"
)


class Dependency(Generic[T]):
    """The class attribute ``depends()`` returns; reading it on an instance gives a proxy."""

    def __init__(self, on: Service[T] | None = None, *, url: str | None = None) -> None:
        self.on = on
        self.url = url
        self.attribute = "<dependency>"
        self._standalone: Any = None
        self._standalone_lock = threading.Lock()

    def __set_name__(self, owner: type, name: str) -> None:
        self.attribute = name

    def __repr__(self) -> str:
        target = self.url if self.url is not None else getattr(self.on, "name", self.on)
        return f"<tiffin.Dependency {self.attribute!r} on {target!r}>"

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        resolved = _resolved(self, instance)
        if resolved is not _MISSING:
            return resolved
        return self._outside_a_graph()

    def _outside_a_graph(self) -> Any:
        """No running graph holds the instance: BentoML's ``Dependency.get`` without a server."""
        with self._standalone_lock:
            if self._standalone is None:
                if self.url is not None:
                    self._standalone = remote_proxy(self.url, self.on)
                else:
                    assert self.on is not None
                    self._standalone = standalone_instance(self.on)
            return self._standalone


def depends(
    on: Service[T] | None = None,
    *,
    url: str | None = None,
    deployment: str | None = None,
    cluster: str | None = None,
) -> Any:
    """Declare that a service uses ``on`` (run in this process) or the service at ``url``."""
    from tiffin.service import Service

    if on is not None and not isinstance(on, Service):
        raise BentoMLConfigException(
            f"depends() expects a class decorated with @tiffin.service, got "
            f"{type(on).__name__} {on!r}"
        )
    if deployment is not None or cluster is not None:
        raise BentoMLConfigException(CLOUD_ONLY)
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://"))
    ):
        raise BentoMLConfigException(
            f"depends(url=...) needs an http:// or https:// URL, got {url!r}"
        )
    if on is None and url is None:
        raise BentoMLConfigException(
            "depends() needs the service to depend on (depends(Other)) or its url= "
            "(depends(url='http://host:port'))"
        )
    return Dependency(on, url=url)


def remote_proxy(url: str, service: Service[Any] | None) -> RemoteProxy:
    """The HTTP proxy of ``depends(url=...)``; it needs httpx (tiffin's test extra)."""
    try:
        from tiffin.remote_proxy import RemoteProxy
    except ModuleNotFoundError as exc:
        from tiffin.exceptions import MissingDependencyException
        from tiffin.extras import missing_test_extra

        raise MissingDependencyException(missing_test_extra("depends(url=...)", exc)) from None
    return RemoteProxy(url, service=service)


def collect_dependencies(inner: type) -> dict[str, Dependency[Any]]:
    """The class's ``depends()`` attributes by name, base classes first."""
    found: dict[str, Dependency[Any]] = {}
    for cls in reversed(inner.__mro__[:-1]):
        for attribute, value in vars(cls).items():
            if isinstance(value, Dependency):
                found[attribute] = value
    return found


def in_effect(service: Service[Any]) -> list[Dependency[Any]]:
    """The service's dependencies still in its class: one a test replaced by setting the
    class attribute (the harness's attribute overrides) is used as it is, never started."""
    return [
        dependency
        for name, dependency in service.dependencies.items()
        if getattr(service.inner, name, None) is dependency
    ]


def standalone_instance(service: Service[Any]) -> Any:
    """A plain instance of ``service``'s class with BentoML's ``to_async``/``to_sync``."""
    from tiffin.local_proxy import AsyncCalls, SyncCalls

    instance = service.inner()
    with contextlib.suppress(AttributeError):  # a class with __slots__ goes without
        instance.to_async = AsyncCalls(service, instance, None)
        instance.to_sync = SyncCalls(service, instance, None, None)
    return instance


# ---------------------------------------------------------------------------
# Resolution: which proxy answers a dependency read on a given instance.

_MISSING: Any = object()


def _resolved(dependency: Dependency[Any], instance: Any) -> Any:
    """The proxy the graph running ``instance`` holds for ``dependency``, or ``_MISSING``.

    During ``__init__`` the instance is not yet the runtime's, so the runtime
    of the current context answers (the composed app sets it around startup).
    """
    current = context.current_runtime()
    candidates = [current] if current is not None else []
    candidates.extend(r for r in context.running_runtimes() if r is not current)
    for runtime in candidates:
        resolved: Mapping[Dependency[Any], Any] | None = getattr(runtime, "dependencies", None)
        if not resolved or dependency not in resolved:
            continue
        owner = getattr(runtime, "instance", None)
        if owner is None or owner is instance:
            return resolved[dependency]
    return _MISSING


# ---------------------------------------------------------------------------
# The graph: every service a dependent needs, started before it, stopped after it.


def _graph_order(root: Service[Any], overrides: Mapping[Service[Any], Any]) -> list[Service[Any]]:
    """The services ``root`` needs in process, deepest first, each once (not ``root``)."""
    from tiffin.service import Service

    order: list[Service[Any]] = []
    visiting: list[Service[Any]] = []

    def visit(service: Service[Any]) -> None:
        if service in order:
            return
        if service in visiting:
            cycle = " -> ".join(s.name for s in (*visiting, service))
            raise BentoMLConfigException(f"services depend on each other in a cycle: {cycle}")
        visiting.append(service)
        for dependency in in_effect(service):
            if dependency.url is not None or dependency.on is None:
                continue
            target = overrides.get(dependency.on, dependency.on)
            if isinstance(target, Service):
                visit(target)
        visiting.pop()
        order.append(service)

    visit(root)
    order.remove(root)
    return order


def check_overrides(root: Service[Any], overrides: Mapping[Any, Any]) -> dict[Service[Any], Any]:
    """``to_asgi(dependencies=...)``: each key a service that ``root``'s graph runs."""
    from tiffin.service import Service

    in_graph = {root, *_graph_order(root, {})}
    used = {
        dependency.on
        for service in in_graph
        for dependency in in_effect(service)
        if dependency.on is not None
    }
    for original in overrides:
        if not isinstance(original, Service):
            raise BentoMLConfigException(
                f"service {root.name!r}: dependencies= maps a service to its stand-in; the key "
                f"{original!r} is not a service"
            )
        if original not in used:
            names = ", ".join(sorted(s.name for s in used)) or "none"
            raise BentoMLConfigException(
                f"service {root.name!r}: dependencies= replaces {original.name!r}, which it "
                f"does not depend on (its dependencies: {names})"
            )
    return dict(overrides)


class DependencyGraph:
    """Starts and stops the dependencies of one composed app; holds their proxies."""

    def __init__(
        self, root: Service[Any], overrides: Mapping[Service[Any], Any] | None = None
    ) -> None:
        self.root = root
        self.overrides = dict(overrides or {})
        self._order = _graph_order(root, self.overrides)
        self._proxies: dict[Service[Any], Any] = {}
        self._remotes: list[RemoteProxy] = []
        self._stack: contextlib.AsyncExitStack | None = None

    @property
    def empty(self) -> bool:
        return not in_effect(self.root)

    async def start(
        self, starting: Callable[[str], None] | None = None
    ) -> dict[Dependency[Any], Any]:
        """Start every dependency in process; return the root's proxies by dependency.

        ``starting`` is told the name of each service as its startup begins.
        """
        import asyncio

        from tiffin.local_proxy import LocalProxy
        from tiffin.service import Service

        loop = asyncio.get_running_loop()
        self._stack = contextlib.AsyncExitStack()
        for original, replacement in self.overrides.items():
            if not isinstance(replacement, Service):
                self._proxies[original] = replacement  # a stand-in object, used as it is
        try:
            for service in self._order:
                if starting is not None:
                    starting(service.name)
                app = service.to_asgi(is_main=False)
                app.runtime.dependencies = self.resolve(service)
                await self._stack.enter_async_context(app.running())
                self._proxies[service] = LocalProxy(service, app.runtime, loop)
            return self.resolve(self.root)
        except BaseException:
            await self.stop()
            raise

    def resolve(self, service: Service[Any]) -> dict[Dependency[Any], Any]:
        resolved: dict[Dependency[Any], Any] = {}
        for dependency in in_effect(service):
            if dependency.url is not None:
                remote = remote_proxy(dependency.url, dependency.on)
                self._remotes.append(remote)
                resolved[dependency] = remote
                continue
            assert dependency.on is not None
            target = self.overrides.get(dependency.on, dependency.on)
            resolved[dependency] = self._proxies.get(target, self._proxies.get(dependency.on))
        return resolved

    async def stop(self) -> None:
        """Stop the dependencies in reverse order of start; close the HTTP clients."""
        stack, self._stack = self._stack, None
        try:
            if stack is not None:
                await stack.aclose()
        finally:
            remotes, self._remotes = self._remotes, []
            for remote in remotes:
                await remote.aclose()
            self._proxies.clear()
