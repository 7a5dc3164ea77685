"""Live servers shared by the tests of a module or of the session (``live_scope``).

``--tiffin-live-scope=session`` (ini key ``tiffin_live_scope``, marker keyword
``live_scope=``) starts one live server per service and overrides, the first
time a test asks for it, and stops it when the module or the session ends; each
test gets a fresh client. Shared, the service's state is shared too: a test that
needs a fresh instance keeps ``live_scope="function"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tiffin.testing.live_session import LiveSession

# Options of the client alone: tests differing only in these share one server.
CLIENT_OPTIONS = ("base_url", "raise_server_exceptions", "owner")


class SharedLiveServers:
    """The open ``LiveSession`` of each (scope, service, overrides)."""

    def __init__(self) -> None:
        self.sessions: dict[tuple[Any, ...], LiveSession] = {}

    def get(
        self,
        request: pytest.FixtureRequest,
        scope: str,
        make_harness: Callable[[], Any],
        service: Any,
        overrides: dict[str, Any],
    ) -> LiveSession:
        from tiffin.testing.live_session import LiveSession

        owner = request.node.getparent(pytest.Module) if scope == "module" else request.session
        assert owner is not None
        server_options = {k: v for k, v in overrides.items() if k not in CLIENT_OPTIONS}
        key = (scope, owner.nodeid, id(service), repr(sorted(server_options.items(), key=str)))
        session = self.sessions.get(key)
        if session is None:
            session = LiveSession(make_harness()).start()
            self.sessions[key] = session

            def stop() -> None:
                del self.sessions[key]
                session.stop()

            owner.addfinalizer(stop)
        return session
