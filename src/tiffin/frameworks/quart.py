"""Quart apps: bind view functions defined in a service class; read a request's route template."""

from __future__ import annotations

import re
from typing import Any

from tiffin.frameworks import ClassFunctions, bind_to_service

# Werkzeug rule syntax ``<int:item_id>`` -> the template syntax of the metrics ``{item_id}``.
_RULE_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def bind_class_routes(app: Any, owner: type, methods: ClassFunctions) -> None:
    for endpoint, view in list(app.view_functions.items()):
        if view in methods:
            app.view_functions[endpoint] = bind_to_service(view, owner)


def route_template(app: Any, scope: Any) -> str | None:
    """The rule a request matched (``/items/{item_id}``), or None for a miss."""
    from werkzeug.exceptions import HTTPException

    path = scope["path"][len(scope["root_path"]) :] or "/"
    adapter = app.url_map.bind("", script_name=scope["root_path"] or None)
    try:
        rule, _ = adapter.match(path, method=scope.get("method"), return_rule=True)
    except HTTPException:
        return None
    return _RULE_VARIABLE.sub(r"{\1}", rule.rule)
