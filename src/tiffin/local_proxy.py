"""The in-process proxy of ``depends(Other)``: a running dependency's APIs as methods.

``proxy.api(...)`` is the running instance's own method (sync stays sync, async
returns a coroutine); ``proxy.to_async.api(...)`` is always awaitable and
``proxy.to_sync.api(...)`` always blocking, as BentoML's ``RemoteProxy`` and its
``_AsyncWrapper``/``_SyncWrapper`` (``_bentoml_sdk/service/factory.py``, 1.4.40)
offer. Inside a call ``get_current_service()`` answers the dependency's instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from tiffin import context
from tiffin.exceptions import BentoMLException

if TYPE_CHECKING:
    from tiffin.service import Service


def _api_methods(service: Service[Any]) -> dict[str, Any]:
    """API specs by method name (the name BentoML's proxies use)."""
    return {spec.func.__name__: spec for spec in service.apis.values()}


def _call_in(runtime: Any, func: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    """Call ``func`` with ``get_current_service()`` answering ``runtime``'s instance."""
    if runtime is None:
        return func(*args, **kwargs)
    token = context.enter(runtime)
    try:
        result = func(*args, **kwargs)
    finally:
        context.leave(token)
    if inspect.iscoroutine(result):
        return _in_context_coroutine(runtime, result)
    if inspect.isasyncgen(result):
        return _in_context_async_gen(runtime, result)
    if inspect.isgenerator(result):
        return _in_context_gen(runtime, result)
    return result


async def _in_context_coroutine(runtime: Any, coroutine: Any) -> Any:
    token = context.enter(runtime)
    try:
        return await coroutine
    finally:
        context.leave(token)


async def _in_context_async_gen(runtime: Any, agen: Any) -> AsyncIterator[Any]:
    # Entered around each step: the consumer may step it from different contexts.
    while True:
        token = context.enter(runtime)
        try:
            item = await anext(agen)
        except StopAsyncIteration:
            return
        finally:
            context.leave(token)
        yield item


def _in_context_gen(runtime: Any, gen: Any) -> Iterator[Any]:
    # Entered around each step: to_async steps it in a new thread (a new context) each time.
    while True:
        token = context.enter(runtime)
        try:
            item = next(gen)
        except StopIteration:
            return
        finally:
            context.leave(token)
        yield item


class _Calls:
    """A namespace of one service's APIs: ``calls.summarize(...)``."""

    def __init__(self, service: Service[Any], instance: Any, runtime: Any) -> None:
        self._service = service
        self._instance = instance
        self._runtime = runtime
        self._apis = _api_methods(service)

    def __dir__(self) -> list[str]:
        return sorted(self._apis)

    def __getattr__(self, name: str) -> Any:
        spec = self._apis.get(name) if not name.startswith("_") else None
        if spec is None:
            raise AttributeError(
                f"service {self._service.name!r} has no API {name!r}; its APIs: "
                f"{', '.join(sorted(self._apis)) or 'none'}"
            )
        method = getattr(self._instance, name)
        return self._wrap(spec, method)

    def _wrap(self, spec: Any, method: Callable[..., Any]) -> Callable[..., Any]:
        raise NotImplementedError


class AsyncCalls(_Calls):
    """``proxy.to_async.api(...)``: awaitable (or an async iterator for a streaming API)."""

    def _wrap(self, spec: Any, method: Callable[..., Any]) -> Callable[..., Any]:
        runtime = self._runtime
        if spec.is_async:
            return lambda *args, **kwargs: _call_in(runtime, method, args, kwargs)
        if spec.is_stream:

            async def stream(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                gen = _call_in(runtime, method, args, kwargs)
                done = object()
                while (item := await asyncio.to_thread(next, gen, done)) is not done:
                    yield item

            return stream

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(_call_in, runtime, method, args, kwargs)

        return call


class SyncCalls(_Calls):
    """``proxy.to_sync.api(...)``: blocking (or an iterator for a streaming API).

    An async API runs on the loop of the dependency's server; from that loop's own
    thread a blocking call would deadlock, so it is refused there with the fix.
    """

    def __init__(
        self,
        service: Service[Any],
        instance: Any,
        runtime: Any,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        super().__init__(service, instance, runtime)
        self._loop = loop

    def _wrap(self, spec: Any, method: Callable[..., Any]) -> Callable[..., Any]:
        runtime = self._runtime
        if not spec.is_async:
            return lambda *args, **kwargs: _call_in(runtime, method, args, kwargs)
        if spec.is_stream:

            def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
                with self._blocking_on(spec) as run:
                    agen = _call_in(runtime, method, args, kwargs)
                    done = object()
                    while (item := run(anext(agen, done))) is not done:
                        yield item

            return stream

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._blocking_on(spec) as run:
                return run(_call_in(runtime, method, args, kwargs))

        return call

    @contextlib.contextmanager
    def _blocking_on(self, spec: Any) -> Iterator[Callable[[Any], Any]]:
        """A function running an awaitable to its end from this (loop-less) thread."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            name = spec.func.__name__
            raise BentoMLException(
                f"to_sync.{name}() blocks, and it was called on a running event loop; in "
                f"async code use `await proxy.to_async.{name}(...)`"
            )
        loop = self._loop
        if loop is not None and not loop.is_closed():
            yield lambda awaitable: asyncio.run_coroutine_threadsafe(
                _awaited(awaitable), loop
            ).result()
            return
        # No server loop (a plain instance): one private loop for the whole call, as
        # BentoML's _SyncWrapper runs it with run_until_complete.
        private = asyncio.new_event_loop()
        try:
            yield lambda awaitable: private.run_until_complete(_awaited(awaitable))
        finally:
            private.run_until_complete(private.shutdown_asyncgens())
            private.close()


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


class LocalProxy:
    """A running dependency of the same process: its APIs as methods, sync and async.

    ``proxy.api(...)`` is the instance's own method (sync stays sync, async
    returns a coroutine); ``to_async`` and ``to_sync`` as BentoML's proxy.
    Attributes that are not APIs are refused, as BentoML's ``RemoteProxy`` does.
    """

    def __init__(
        self, service: Service[Any], runtime: Any, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.service = service
        self._runtime = runtime
        self._loop = loop
        self._apis = _api_methods(service)

    def __repr__(self) -> str:
        return f"<tiffin.LocalProxy of running service {self.service.name!r}>"

    @property
    def instance(self) -> Any:
        """The running instance (for a test that wants to look inside)."""
        return self._runtime.instance

    @property
    def to_async(self) -> AsyncCalls:
        return AsyncCalls(self.service, self._runtime.instance, self._runtime)

    @property
    def to_sync(self) -> SyncCalls:
        return SyncCalls(self.service, self._runtime.instance, self._runtime, self._loop)

    def __dir__(self) -> list[str]:
        return sorted({*self._apis, "to_async", "to_sync", "instance", "service"})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._apis:
            raise AttributeError(
                f"{name!r} is not an API of service {self.service.name!r}: a dependency "
                f"proxy offers its APIs ({', '.join(sorted(self._apis)) or 'none'}), "
                "to_async and to_sync"
            )
        method = getattr(self._runtime.instance, name)
        return lambda *args, **kwargs: _call_in(self._runtime, method, args, kwargs)
