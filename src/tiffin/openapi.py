"""The OpenAPI document served at ``/docs.json``.

It lists the infrastructure routes, every ``@api`` (input schema from its
pydantic model) and the routes of every mounted FastAPI app under their
prefix, taken from FastAPI's own ``openapi()``. Other frameworks have no
schema to offer and are left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import pydantic

from tiffin.api import APISpec

if TYPE_CHECKING:
    from tiffin.config import ServiceConfig
    from tiffin.service import Service

REF_TEMPLATE = "#/components/schemas/{model}"
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "detail": {"type": "array", "items": {}}},
    "required": ["error"],
}
PROBE_SUMMARIES = {
    "/livez": "Liveness probe",
    "/healthz": "Liveness probe (alias of /livez)",
    "/readyz": "Readiness probe: 200 once startup has finished",
    "/metrics": "Prometheus metrics",
}


def build_openapi(service: Service[Any], config: ServiceConfig) -> dict[str, Any]:
    from tiffin import __version__

    schemas: dict[str, Any] = {"TiffinError": ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    prefix = config.path_prefix
    for path, summary in PROBE_SUMMARIES.items():
        paths[prefix + path] = {
            "get": {
                "tags": ["Infrastructure"],
                "summary": summary,
                "operationId": f"infra_{path.strip('/')}",
                "responses": {"200": {"description": "OK"}},
            }
        }
    for route, spec in service.apis.items():
        paths[prefix + route] = {"post": _api_operation(spec, schemas)}
    for mount in service.mounts:
        if mount.framework != "fastapi":
            continue
        document = cast(Any, mount.app).openapi()
        mount_prefix = prefix + ("" if mount.path == "/" else mount.path)
        for path, item in document.get("paths", {}).items():
            paths[mount_prefix + path] = item
        schemas.update(document.get("components", {}).get("schemas", {}))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": service.name,
            "version": __version__,
            "description": (service.inner.__doc__ or "").strip() or f"The {service.name} service",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _api_operation(spec: APISpec, schemas: dict[str, Any]) -> dict[str, Any]:
    model = spec.input_model
    input_schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    schemas.update(input_schema.pop("$defs", {}))
    schemas[model.__name__] = input_schema
    error = {
        "content": {
            "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="TiffinError")}}
        }
    }
    return {
        "tags": ["Service APIs"],
        "operationId": spec.name,
        "summary": spec.name,
        "description": (spec.func.__doc__ or "").strip(),
        "requestBody": {
            # An empty body is `{}`: it is optional exactly when every parameter has a default.
            "required": any(field.is_required() for field in model.model_fields.values()),
            "content": {
                "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)}}
            },
        },
        "responses": {
            "200": {
                "description": "Successful Response",
                "content": _output_content(spec, schemas),
            },
            "400": {"description": "Invalid input", **error},
            "500": {"description": "Unexpected error", **error},
        },
    }


def _output_content(spec: APISpec, schemas: dict[str, Any]) -> dict[str, Any]:
    annotation = spec.output_annotation
    if annotation is str:
        return {"text/plain": {"schema": {"type": "string"}}}
    try:
        schema = pydantic.TypeAdapter(annotation).json_schema(ref_template=REF_TEMPLATE)
    except Exception:
        schema = {}
    schemas.update(schema.pop("$defs", {}))
    return {"application/json": {"schema": schema}}
