"""FastAPI's private API that tiffin uses.

Checked against FastAPI 0.137.0 (the floor) and 0.165.0 (the latest installed here).
"""

from __future__ import annotations

from typing import Any


def mark_routes_changed(router: Any) -> None:
    """Tell a router its routes were replaced in place.

    FastAPI caches the routes it derives from included routers
    (``APIRouter._mark_routes_changed``); without this a rebuilt route would not be
    served. Older releases have no cache, and nothing needs doing.
    """
    mark_changed = getattr(router, "_mark_routes_changed", None)
    if mark_changed is not None:
        mark_changed()
