"""The OpenAPI document served at ``/docs.json``.

It lists the infrastructure routes, every ``@api`` (input schema from its
pydantic model) and the routes of every mounted FastAPI app under their
prefix, taken from FastAPI's own ``openapi()``. Other frameworks have no
schema to offer and are left out.

Every API and every mounted app brings component schemas of its own. Identical
schemas under one name are kept once; a name already holding a different
schema (two apps, each with its own ``Item``) is given to the newcomer with its
source's name in front (``v2_Item``), and that source's ``$ref``s follow.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

import pydantic

from tiffin.api import APISpec
from tiffin.api_files import is_file_output

if TYPE_CHECKING:
    from tiffin.config import ServiceConfig
    from tiffin.service import Service

REF_PREFIX = "#/components/schemas/"
REF_TEMPLATE = REF_PREFIX + "{model}"
# What OpenAPI allows in a component name; anything else in a mount path becomes "_".
_NOT_IN_COMPONENT_NAME = re.compile(r"[^A-Za-z0-9._-]+")
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
        source = _component_name(mount.path.strip("/") or "root")
        renamed = merge_schemas(schemas, document.get("components", {}).get("schemas", {}), source)
        for path, item in document.get("paths", {}).items():
            paths[mount_prefix + path] = rewrite_refs(item, renamed)
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


def merge_schemas(schemas: dict[str, Any], incoming: dict[str, Any], source: str) -> dict[str, str]:
    """Add ``incoming`` to ``schemas``; answer the names given a ``source`` prefix to stay apart.

    A schema is renamed when its name holds a different schema already, and so
    is every schema referring to a renamed one (its meaning differs too), until
    nothing more changes. ``incoming`` is left as it is.
    """
    renamed: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for name, schema in incoming.items():
            if name in renamed or name not in schemas:
                continue
            if schemas[name] != rewrite_refs(schema, renamed):
                renamed[name] = _free_name(f"{source}_{name}", schemas, incoming, renamed)
                changed = True
    for name, schema in incoming.items():
        schemas[renamed.get(name, name)] = rewrite_refs(schema, renamed)
    return renamed


def rewrite_refs(value: Any, renamed: dict[str, str]) -> Any:
    """A copy of ``value`` with its references to the schemas in ``renamed`` renamed."""
    if not renamed:
        return value
    if isinstance(value, list):
        return [rewrite_refs(item, renamed) for item in value]
    if not isinstance(value, dict):
        return value
    copy = {key: rewrite_refs(item, renamed) for key, item in value.items()}
    ref = copy.get("$ref")
    if isinstance(ref, str):
        copy["$ref"] = _renamed_ref(ref, renamed)
    discriminator = copy.get("discriminator")
    if isinstance(discriminator, dict) and isinstance(discriminator.get("mapping"), dict):
        discriminator["mapping"] = {
            key: _renamed_ref(target, renamed) if isinstance(target, str) else target
            for key, target in discriminator["mapping"].items()
        }
    return copy


def _renamed_ref(ref: str, renamed: dict[str, str]) -> str:
    if ref.startswith(REF_PREFIX):
        name = renamed.get(ref[len(REF_PREFIX) :])
        if name is not None:
            return REF_PREFIX + name
    return ref


def _free_name(
    wanted: str, schemas: dict[str, Any], incoming: dict[str, Any], renamed: dict[str, str]
) -> str:
    taken = schemas.keys() | incoming.keys() | set(renamed.values())
    name, number = wanted, 1
    while name in taken:
        number += 1
        name = f"{wanted}_{number}"
    return name


def _component_name(text: str) -> str:
    return _NOT_IN_COMPONENT_NAME.sub("_", text)


def _api_operation(spec: APISpec, schemas: dict[str, Any]) -> dict[str, Any]:
    model = spec.input_model
    own: dict[str, Any] = {}
    input_schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    own.update(input_schema.pop("$defs", {}))
    # The name of a service class defined in a function holds "<locals>".
    input_name = _component_name(model.__name__)
    own[input_name] = input_schema
    request_body = {
        # An empty body is `{}`: it is optional exactly when every parameter has a default.
        "required": any(field.is_required() for field in model.model_fields.values()),
        # JSON; a form for file inputs; a root input's own type (text, a file's type).
        "content": {
            spec.input_media_type: {"schema": {"$ref": REF_TEMPLATE.format(model=input_name)}}
        },
    }
    output = _output_content(spec, own)
    renamed = merge_schemas(schemas, own, _component_name(spec.name))
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
        "requestBody": rewrite_refs(request_body, renamed),
        "responses": {
            "200": {
                "description": "Successful Response",
                "content": rewrite_refs(output, renamed),
            },
            "400": {"description": "Invalid input", **error},
            "500": {"description": "Unexpected error", **error},
        },
    }


def _output_content(spec: APISpec, schemas: dict[str, Any]) -> dict[str, Any]:
    annotation = spec.output_annotation
    if annotation is str:
        return {"text/plain": {"schema": {"type": "string"}}}
    if is_file_output(annotation):  # a returned Path is sent as the file
        media_type = spec.output_content_type or "application/octet-stream"
        return {media_type: {"schema": {"type": "string", "format": "binary"}}}
    try:
        schema = pydantic.TypeAdapter(annotation).json_schema(ref_template=REF_TEMPLATE)
    except Exception:
        schema = {}
    schemas.update(schema.pop("$defs", {}))
    return {"application/json": {"schema": schema}}
