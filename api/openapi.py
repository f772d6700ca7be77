"""The OpenAPI document: FastAPI's, plus the operations written out for the routes that are
plain Starlette routes (api.routes' status route), which FastAPI does not describe."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

SCHEMA_REF = "#/components/schemas/{model}"


def ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": SCHEMA_REF.format(model=model.__name__)}


def add_operations(
    app: FastAPI,
    paths: Mapping[str, Mapping[str, Any]],
    *,
    models: Sequence[type[BaseModel]],
    security_schemes: Mapping[str, Any],
) -> None:
    """Document ``paths`` (path -> method -> operation) in ``app``'s OpenAPI document, first,
    with the schemas of ``models`` and the ``security_schemes`` those operations refer to."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _merge(generate(), paths, models, security_schemes)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _merge(
    schema: dict[str, Any],
    paths: Mapping[str, Mapping[str, Any]],
    models: Sequence[type[BaseModel]],
    security_schemes: Mapping[str, Any],
) -> None:
    generated: dict[str, Any] = schema.get("paths", {})
    written = {
        path: {**generated.get(path, {}), **operations} for path, operations in paths.items()
    }
    schema["paths"] = {**written, **{p: ops for p, ops in generated.items() if p not in written}}
    components = schema.setdefault("components", {})
    _, definitions = models_json_schema(
        [(model, "serialization") for model in models], ref_template=SCHEMA_REF
    )
    schemas = {**components.get("schemas", {}), **definitions.get("$defs", {})}
    components["schemas"] = dict(sorted(schemas.items()))
    components["securitySchemes"] = {**components.get("securitySchemes", {}), **security_schemes}
