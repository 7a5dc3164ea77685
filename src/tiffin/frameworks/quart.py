"""Quart apps: bind view functions defined in a service class."""

from __future__ import annotations

from typing import Any

from tiffin.frameworks import bind_to_service


def bind_class_routes(app: Any, owner: type, methods: set[int]) -> None:
    for endpoint, view in list(app.view_functions.items()):
        if id(view) in methods:
            app.view_functions[endpoint] = bind_to_service(view, owner)
