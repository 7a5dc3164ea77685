"""The router of a composed app: the route table of CONTRACT section 2, first match wins.

1. ``/livez`` ``/healthz`` ``/readyz`` ``/metrics`` (GET, HEAD)
2. each ``@api`` route (POST)
3. ``/docs.json`` ``/docs`` (GET)
4. mounted apps, longest prefix first (any method, websockets too)
5. ``/`` index page unless a mount claims ``/``

All paths are below the service's ``path_prefix``. Matching is by dict lookups,
so its cost does not grow with the number of APIs or mounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from starlette.datastructures import URL
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import Receive, Scope, Send

from tiffin import infra
from tiffin.api_handler import handle_api
from tiffin.command import has_command
from tiffin.docs_page import docs_asset
from tiffin.frameworks import matched_template, route_template, routes_bare_prefix, serves_fully
from tiffin.metrics import ENDPOINT_SCOPE_KEY, UNMATCHED
from tiffin.mounts import Mount, MountTable
from tiffin.responses import json_error

if TYPE_CHECKING:
    from tiffin.app import ServiceRuntime

READ_METHODS = frozenset({"GET", "HEAD"})
MATCH_SCOPE_KEY = "tiffin.match"


def path_in_app(scope: Scope) -> str:
    """The request path below the server's ``root_path``."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        return path[len(root_path) :] or "/"
    return path


MatchKind = Literal[
    "probe", "docs_asset", "api", "not_allowed", "mount", "index", "miss", "command"
]
# With a __command__, what the service does not serve itself goes to the command (as
# BentoML, whose proxy app is mounted last at the prefix): only its probes, /metrics, its
# APIs and its mounts stay; the index, the docs and 405s are the command's.
TO_COMMAND = frozenset({"probe", "docs_asset", "not_allowed", "index", "miss"})
DOCS_ROUTES = frozenset({"/docs.json", "/docs"})


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~1.5 µs a request
class Match:
    """What a request reached: decided once, read by dispatch, and its metrics label.

    A mounted app's route is only known once the app has matched it: with metrics
    on, a mount's match keeps what ``final`` needs to find that route (plain
    attributes, set as the request goes: this runs on every request).
    """

    kind: MatchKind
    template: str  # the metrics label: the route template, prefix included
    path: str = ""  # the path below path_prefix
    handler: Any = None  # an infra handler, an ApiSpec, a Mount, or the Allow header
    scope_path: str = ""  # scope["path"] it was decided for
    router: Router | None = None  # a mount's router, once metrics label the request
    scope: Scope | None = None  # the request's scope, as the metrics saw it
    served: tuple[Scope, str] | None = None  # the mounted app's scope, and the outer root_path

    def final(self) -> str:
        """The label the request is counted under: for a mount, the route its app matched."""
        router = self.router
        if router is None:
            return self.template
        try:
            template = router.mounted_template(self)
        except Exception:  # a label never fails a request; the mount's label stands
            template = None
        if template is not None:
            self.template = template
        # The scopes hold this match: let go of them, so a request's scopes are freed as soon
        # as it ends rather than at the next garbage collection.
        self.router = self.scope = self.served = None
        return self.template


MISS = Match("miss", UNMATCHED)


class Router:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.prefix = runtime.config.path_prefix
        self.apis = runtime.service.apis
        self.mounts = MountTable(runtime.service.mounts)
        # As BentoML, an app that is not the main one (a dependency) has no index page.
        self.serves_index = self.mounts.root is None and runtime.is_main
        self.infra = infra.infra_handlers(runtime.config, is_main=runtime.is_main)
        self.moved_probes = infra.moved_probes(runtime.config)  # `endpoints`, whole paths
        self.has_command = has_command(runtime.service)

    def _inner(self, scope: Scope) -> str | None:
        """The path below ``path_prefix``, or None when the path is outside it."""
        path = path_in_app(scope)
        if not self.prefix:
            return path
        if path == self.prefix:
            return "/"
        if path.startswith(self.prefix) and path[len(self.prefix)] == "/":
            return path[len(self.prefix) :]
        return None

    def match(self, scope: Scope) -> Match:
        """The route table of CONTRACT section 2, first match wins; then the command."""
        found = self._match_own(scope)
        if not self.has_command or found.kind not in TO_COMMAND:
            return found
        if found.kind == "probe" and found.path not in DOCS_ROUTES:
            return found  # its probes and /metrics (moved ones too) stay its own
        path = self._inner(scope)
        if path is None:
            return found
        return Match("command", self.prefix + "/{path:path}", path, None, scope["path"])

    def _match_own(self, scope: Scope) -> Match:
        if self.moved_probes and scope["type"] == "http":
            whole = path_in_app(scope)
            moved = self.moved_probes.get(whole)
            if moved is not None:
                if scope["method"] in READ_METHODS:
                    return Match("probe", whole, whole, moved, scope["path"])
                return Match("not_allowed", whole, whole, "GET, HEAD", scope["path"])
        path = self._inner(scope)
        if path is None:
            return MISS
        prefix = self.prefix
        if scope["type"] == "http":
            method = scope["method"]
            handler = self.infra.get(path)
            if handler is not None:
                if method in READ_METHODS:
                    return Match("probe", prefix + path, path, handler, scope["path"])
                return Match("not_allowed", prefix + path, path, "GET, HEAD", scope["path"])
            if (
                path.startswith(infra.DOCS_ASSETS)
                and method in READ_METHODS
                and self.runtime.is_main
            ):
                template = prefix + infra.DOCS_ASSETS + "{asset}"
                return Match("docs_asset", template, path, None, scope["path"])
            spec = self.apis.get(path)
            if spec is not None:
                if method == "POST":
                    return Match("api", prefix + path, path, spec, scope["path"])
                mount = self.mounts.find(path)
                if mount is None or not serves_fully(
                    mount.app, mount.framework, self._child_scope(mount, scope)
                ):
                    return Match("not_allowed", prefix + path, path, "POST", scope["path"])
                return self._mount_match(mount, path, scope)
        mount = self.mounts.find(path)
        if mount is not None:
            return self._mount_match(mount, path, scope)
        if path == "/" and self.serves_index and scope["type"] == "http":
            return Match("index", prefix + "/", path, None, scope["path"])
        return MISS

    def _mount_match(self, mount: Mount, path: str, scope: Scope) -> Match:
        template = self.prefix + _below(mount) + "/{path:path}"
        return Match("mount", template, path, mount, scope["path"])

    def label_for(self, scope: Scope) -> Match:
        """The metrics label of a request: its match (kept on the scope for dispatch)."""
        found = self.match(scope)
        scope[MATCH_SCOPE_KEY] = found
        if found.kind == "mount":
            found.router, found.scope = self, scope
        return found

    def mounted_template(self, found: Match) -> str | None:
        """The template of the mounted route a request reached, the mount's prefix included.

        When the app ran, its router left the route in its scope; when it never
        ran (a ``429`` or ``503`` answered first), its routes are asked.
        """
        mount: Mount = found.handler
        if found.served is not None:
            child, outer_root = found.served
            template = route_template(mount.app, mount.framework, child)
            return None if template is None else child["root_path"][len(outer_root) :] + template
        scope = found.scope if found.scope is not None else {}
        template = matched_template(
            mount.app, mount.framework, {**scope, "root_path": self._mount_root(mount, scope)}
        )
        return None if template is None else self.prefix + _below(mount) + template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found: Match | None = scope.get(MATCH_SCOPE_KEY)
        if found is None or found.scope_path != scope["path"]:  # no metrics, or a path rewritten
            found = self.match(scope)
        kind = found.kind
        if kind == "probe":
            response = await found.handler(self.runtime)
            await response(scope, receive, send)
        elif kind == "api":
            if self.runtime.ready:
                await handle_api(found.handler, self.runtime, scope, receive, send)
            else:
                await self._not_ready(scope, receive, send)
        elif kind == "mount":
            await self._dispatch_mount(found.handler, found.path, scope, receive, send)
        elif kind == "docs_asset":
            await docs_asset(found.path[len(infra.DOCS_ASSETS) :])(scope, receive, send)
        elif kind == "not_allowed":
            await _method_not_allowed(found.handler)(scope, receive, send)
        elif kind == "command":
            await self._dispatch_command(found.path, scope, receive, send)
        elif kind == "index":
            await (await infra.index(self.runtime))(scope, receive, send)
        else:
            await _not_found(scope, receive, send)

    async def _dispatch_command(
        self, path: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        command = self.runtime.command
        if not self.runtime.ready or command is None:
            await self._not_ready(scope, receive, send)
            return
        await command.proxy(path, scope, receive, send)

    async def _dispatch_mount(
        self, mount: Mount, path: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if not self.runtime.ready:
            await self._not_ready(scope, receive, send)
            return
        if (
            path == mount.path
            and scope["type"] == "http"
            and not routes_bare_prefix(mount.framework)
        ):
            await _slash_redirect(scope, receive, send)
            return
        await self._call_mount(mount, scope, receive, send)

    async def _call_mount(self, mount: Mount, scope: Scope, receive: Receive, send: Send) -> None:
        child = self._child_scope(mount, scope)
        label: Match | None = scope.get(ENDPOINT_SCOPE_KEY)
        if label is not None and label.router is not None:  # metrics on, labelled as a mount
            label.served = (child, scope.get("root_path", ""))
        await mount.app(child, receive, send)

    def _child_scope(self, mount: Mount, scope: Scope) -> Scope:
        """The mounted app's scope: ``root_path`` extended, ``path`` kept whole (the ASGI spec)."""
        child = dict(scope)
        child["root_path"] = self._mount_root(mount, scope)
        child["state"] = dict(self.runtime.state_for(mount))  # copied per request, as servers do
        return child

    def _mount_root(self, mount: Mount, scope: Scope) -> str:
        root_path: str = scope.get("root_path", "")
        return root_path + self.prefix + _below(mount)

    async def _not_ready(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013})
            return
        message = (
            f"Service {self.runtime.service.name!r} has not started: run the app's lifespan "
            "first (tiffin serve, uvicorn, or the tiffin_client fixture do)"
        )
        await json_error(503, message)(scope, receive, send)


def _below(mount: Mount) -> str:
    """What a mount adds to the path of its routes: ``/v1``, or nothing for ``/``."""
    return "" if mount.path == "/" else mount.path


def _method_not_allowed(allow: str) -> PlainTextResponse:
    return PlainTextResponse("Method Not Allowed", status_code=405, headers={"Allow": allow})


async def _slash_redirect(scope: Scope, receive: Receive, send: Send) -> None:
    url = URL(scope=scope)
    await RedirectResponse(url.replace(path=url.path + "/"), status_code=307)(scope, receive, send)


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1000})
        return
    await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
