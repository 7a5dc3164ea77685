"""The Swagger UI page at ``/docs``, served from files installed with the package.

The assets are the static files of the ``swagger-ui-py`` package (Swagger UI 5,
which renders OpenAPI 3.1), so the page works offline: no CDN is ever asked for
anything. Only the files are used; the package itself is never imported.
"""

from __future__ import annotations

import html
import importlib.util
from pathlib import Path

from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
        "favicon-16x16.png",
    }
)


def _assets_dir() -> Path:
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the Swagger UI files are missing: pip install swagger-ui-py")
    return Path(next(iter(spec.submodule_search_locations)), "static")


def docs_page(title: str, prefix: str) -> HTMLResponse:
    assets = html.escape(f"{prefix}/docs")
    spec_url = html.escape(f"{prefix}/docs.json")
    return HTMLResponse(
        f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)} - API docs</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "{spec_url}",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "BaseLayout"
}});
</script>
</body>
</html>"""
    )


def docs_asset(name: str) -> Response:
    if name not in ASSETS:
        return PlainTextResponse("Not Found", status_code=404)
    return FileResponse(_assets_dir() / name)
