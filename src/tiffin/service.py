"""``@service`` and the ``Service`` object: a class plus everything needed to serve it.

A ``Service`` is a definition. ``to_asgi()`` composes a fresh ASGI app from it
each time, so two composed apps never share state.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from tiffin.api import API_MARK, APISpec
from tiffin.command import check_command
from tiffin.dependencies import collect_dependencies
from tiffin.exceptions import BentoMLConfigException
from tiffin.frameworks import bind_class_routes
from tiffin.hooks import HOOK_MARK
from tiffin.infra_paths import INFRA_ROUTES
from tiffin.mounts import PENDING_MOUNTS, Mount, add_mount, make_mount

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from tiffin.app import ComposedApp
    from tiffin.config import ServiceConfig

# ``tiffin.config`` (the pydantic models of the options) is imported by the two
# functions that check options, so ``import tiffin`` does not build those models.

T = TypeVar("T")


class Service(Generic[T]):
    """A service definition. Calling it instantiates the user class: ``MyService()``."""

    def __init__(self, inner: type[T], *, name: str | None = None, **options: Any) -> None:
        from tiffin.config import build_config, normalize_prefix

        if not isinstance(inner, type):
            raise BentoMLConfigException(
                f"@service decorates a class, got {type(inner).__name__} {inner!r}"
            )
        service_name = inner.__name__ if name is None else name
        if not isinstance(service_name, str) or not service_name:
            raise BentoMLConfigException(
                f"service {inner.__name__!r}: name must be a non-empty string, got {name!r}"
            )
        self.inner = inner
        # --- sdk-a: configuration (every key of BentoML's schema) ---
        options["path_prefix"] = normalize_prefix(service_name, options.get("path_prefix"))
        self.config = build_config(service_name, options)
        self.deployment_hooks = _collect_deployment_hooks(inner)
        # --- end sdk-a ---
        self.apis = _collect_apis(inner, service_name)
        _check_moved_probes(self.config, self.apis)  # sdk-a
        self.startup_hooks = _collect_hooks(inner, "startup")
        self.shutdown_hooks = _collect_hooks(inner, "shutdown")
        self.middlewares: list[tuple[Callable[..., ASGIApp], dict[str, Any]]] = []
        self.mounts: list[Mount] = []
        for mount in inner.__dict__.get(PENDING_MOUNTS, ()):
            self._add_mount(mount)
        # -- depends() (tiffin.dependencies): the services this one uses, by attribute name.
        self.dependencies = collect_dependencies(inner)
        # -- Service.context.state (BentoML's ServiceContext): the __command__ proxy puts its
        #    process and HTTP client there (tiffin.command); BentoVLLM's __metrics__ reads it.
        self.context = SimpleNamespace(state={})
        check_command(inner, service_name)  # -- __command__ (tiffin.command)

    @property
    def name(self) -> str:
        return self.config.name

    # --- sdk-a: BentoML's Service attributes ---
    @property
    def path_prefix(self) -> str:
        """The prefix of every path the service serves (``""`` for none), as BentoML's."""
        return self.config.path_prefix

    @property
    def description(self) -> str | None:
        return self.config.description or self.inner.__doc__

    @property
    def envs(self) -> list[Any]:
        return list(self.config.envs)

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.config.labels)

    @property
    def image(self) -> Any:
        return self.config.image

    @property
    def cmd(self) -> list[str] | None:
        return self.config.cmd

    def run_deployment_hooks(self) -> None:
        """Run the ``@on_deployment`` hooks, once before any worker starts (as BentoML)."""
        from tiffin.exceptions import StartupError

        for hook in self.deployment_hooks:
            try:
                hook()
            except Exception as exc:
                raise StartupError(
                    f"service {self.name!r} failed to deploy: on_deployment hook "
                    f"{getattr(hook, '__name__', hook)!r} raised {type(exc).__name__}: {exc}"
                ) from exc

    # --- end sdk-a ---

    def __repr__(self) -> str:
        return (
            f"<tiffin.Service {self.name!r} of {self.inner.__module__}.{self.inner.__qualname__}>"
        )

    def __call__(self, *args: Any, **kwargs: Any) -> T:
        return self.inner(*args, **kwargs)

    def __getattr__(self, attribute: str) -> Any:
        # Class attributes of the user class stay reachable: MyService.some_constant.
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return getattr(self.inner, attribute)

    def mount_asgi_app(self, app: ASGIApp, path: str = "/", name: str | None = None) -> None:
        """Mount ``app`` under ``path``; routes defined in the class body get ``self``."""
        self._add_mount(make_mount(app, path, name, where=f"service {self.name!r}"))

    def _add_mount(self, mount: Mount) -> None:
        add_mount(self.mounts, mount, service_name=self.name)
        bind_class_routes(mount.app, self.inner)

    def add_asgi_middleware(self, middleware_cls: Callable[..., ASGIApp], **options: Any) -> None:
        """Wrap everything the service serves in ``middleware_cls(app, **options)``.

        The first middleware added is the outermost of the user middlewares.
        """
        if not callable(middleware_cls):
            raise BentoMLConfigException(
                f"service {self.name!r}: add_asgi_middleware() needs a middleware class or "
                f"callable taking (app, **options), got {type(middleware_cls).__name__} "
                f"{middleware_cls!r}"
            )
        try:
            inspect.signature(middleware_cls).bind(None, **options)
        except TypeError as exc:
            raise BentoMLConfigException(
                f"service {self.name!r}: {_callable_name(middleware_cls)} does not accept "
                f"the options {sorted(options)}: {exc}"
            ) from None
        except ValueError:
            pass  # no introspectable signature (a builtin): checked when the app is composed
        self.middlewares.append((middleware_cls, options))

    def to_asgi(
        self,
        is_main: bool = True,
        init: bool = False,
        *,
        traffic: dict[str, Any] | None = None,
        dependencies: dict[Service[Any], Any] | None = None,
    ) -> ComposedApp:
        """A fresh ASGI app serving this service; ``traffic`` overrides the decorator's values.

        ``is_main=False`` serves no docs and no index page (a dependency, as in
        BentoML). ``init=True`` (BentoML 1.2) runs ``__init__`` now, in the caller,
        instead of at the start of the lifespan. ``dependencies={Other: Fake}`` runs
        ``Fake`` (a service, or any object used as it is) wherever the graph of this
        app would run ``Other`` (for tests).
        """
        from tiffin.app import ComposedApp

        config = self.config.with_traffic(traffic) if traffic else self.config
        app = ComposedApp(self, config, is_main=is_main, init=init)
        if dependencies:
            from tiffin.dependencies import check_overrides

            app.runtime.dependency_overrides = check_overrides(self, dependencies)
        return app


def _callable_name(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or repr(obj)


def _check_moved_probes(config: ServiceConfig, apis: dict[str, APISpec]) -> None:
    """An API at a path ``endpoints`` gives a probe would never be reached: refused."""
    probes = {
        "/" + path.strip("/") for path in (config.endpoints.livez, config.endpoints.readyz) if path
    }
    for route, spec in apis.items():
        if config.path_prefix + route in probes:
            raise BentoMLConfigException(
                f"service {config.name!r}: API {spec.name!r} uses route "
                f"{config.path_prefix + route!r}, which endpoints= gives a probe; choose another "
                "route= or another endpoints path"
            )


def _collect_deployment_hooks(inner: type) -> list[Callable[[], Any]]:
    """``@on_deployment`` static methods in definition order (base classes first)."""
    hooks: dict[str, Callable[[], Any]] = {}
    for cls in reversed(inner.__mro__[:-1]):
        for attribute, value in vars(cls).items():
            func = value.__func__ if isinstance(value, staticmethod) else value
            if getattr(func, HOOK_MARK, None) == "deployment":
                hooks[attribute] = func
    return list(hooks.values())


def _collect_apis(inner: type, service_name: str) -> dict[str, APISpec]:
    """APIs by route, with their input models built now so a bad signature fails here."""
    apis: dict[str, APISpec] = {}
    for cls in reversed(inner.__mro__[:-1]):
        for attribute, value in vars(cls).items():
            spec = getattr(value, API_MARK, None)
            if not isinstance(spec, APISpec):
                continue
            # A subclass that redefines an API method replaces the base class's API.
            apis = {route: s for route, s in apis.items() if s.func.__name__ != attribute}
            if spec.route in INFRA_ROUTES:
                raise BentoMLConfigException(
                    f"service {service_name!r}: API {spec.name!r} uses route {spec.route!r}, "
                    "which is an infrastructure route; choose another route="
                )
            if spec.route in apis:
                raise BentoMLConfigException(
                    f"service {service_name!r}: APIs {apis[spec.route].name!r} and "
                    f"{spec.name!r} both use route {spec.route!r}"
                )
            try:
                spec.input_model  # noqa: B018 - built now so errors surface at definition time
            except BentoMLConfigException as exc:
                raise BentoMLConfigException(f"service {service_name!r}: {exc}") from None
            apis[spec.route] = spec
    return apis


def _collect_hooks(inner: type, kind: str) -> list[Callable[..., Any]]:
    """Hook methods in definition order (base classes first)."""
    hooks: dict[str, Callable[..., Any]] = {}
    for cls in reversed(inner.__mro__[:-1]):
        for attribute, value in vars(cls).items():
            if getattr(value, HOOK_MARK, None) == kind:
                hooks[attribute] = value
    return list(hooks.values())


@overload
def service(inner: type[T], /) -> Service[T]: ...
@overload
def service(
    inner: None = None,
    /,
    *,
    name: str | None = None,
    path_prefix: str | None = None,
    **options: Any,
) -> Callable[[type[T]], Service[T]]: ...
def service(inner: type[T] | None = None, /, **options: Any) -> Any:
    """Turn a class into a service; works bare (``@service``) and with options.

    The options are BentoML's: every key of its service configuration schema
    (``traffic``, ``resources``, ``http``, ``endpoints``...) and ``name``,
    ``path_prefix``, ``description``, ``envs``, ``labels``, ``image``, ``cmd``.
    """

    def decorate(cls: type[T]) -> Service[T]:
        from tiffin.config import SERVICE_ARGUMENTS

        unknown = sorted(set(options) - SERVICE_ARGUMENTS)
        if unknown:
            raise BentoMLConfigException(
                f"service {getattr(cls, '__name__', cls)!r}: @service got unknown argument(s) "
                f"{', '.join(unknown)}; known arguments: {', '.join(sorted(SERVICE_ARGUMENTS))}"
            )
        if isinstance(cls, Service):
            raise BentoMLConfigException(
                f"@service is applied twice to {cls.name!r}; apply it once"
            )
        return Service(cls, **options)

    return decorate if inner is None else decorate(inner)
