"""The OpenAPI document as clients and fuzzers read it: who may call, and what every answer looks like.

FastAPI documents the success of each route; the rest is added here once for all routes, so that
the document matches what the gateway really answers (a schemathesis run checks every response
against it): the two authentication schemes (the docs page's "Authorize" button), `GET /health/live`
as the one public route, the AAS `Result` schema, and every error status any operation can answer
with, each with a Result body: 400 and 404 (input), 401 and 403 (access), 408, 413 and 415 for
operations with a body, 431 and 503 (transport limits). Media types other than JSON (Prometheus
text, XML and AASX serialisations) are declared where they are served.
"""

from __future__ import annotations

from typing import Any

RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "AAS Part 2 Result: the body of every error",
    "required": ["messages"],
    "additionalProperties": False,
    "properties": {"messages": {"type": "array", "items": {
        "type": "object",
        "required": ["code", "messageType", "text", "timestamp"],
        "properties": {
            "code": {"type": "string"},
            "messageType": {"type": "string", "enum": ["Undefined", "Info", "Warning", "Error", "Exception"]},
            "text": {"type": "string"},
            "timestamp": {"type": "string"},
            "correlationId": {"type": "string"},
        },
    }}},
}
_RESULT = {"application/json": {"schema": {"$ref": "#/components/schemas/Result"}}}

_ALWAYS = {
    400: "Bad request (malformed id, path, parameter or request); body is a Result",
    401: "No or invalid credentials; body is a Result",
    403: "The caller's role may not do this; body is a Result",
    404: "Not found; body is a Result",
    431: "Request line and headers beyond api.limits.max_head_bytes; body is a Result",
    503: "Too many open connections (api.limits.max_connections); body is a Result",
}
_WITH_BODY = {
    408: "The body did not arrive within api.limits.body_timeout_s; body is a Result",
    413: "The body is larger than api.limits.max_body_bytes; body is a Result",
    415: "The body is not application/json; body is a Result",
}
PUBLIC_PATHS = {"/health/live"}
# media types served besides JSON, per path suffix
_OTHER_MEDIA = {
    "/metrics": {"text/plain; version=0.0.4; charset=utf-8": {"schema": {"type": "string"}}},
    "/serialization": {"application/xml": {"schema": {"type": "string"}},
                       "application/asset-administration-shell-package+xml": {"schema": {"type": "string",
                                                                                         "format": "binary"}}},
    "/attachment": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` (FastAPI's document) with security, the Result schema and every error response added."""
    components = schema.setdefault("components", {})
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "an API key (agw_...) or an OIDC access token (JWT)"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    components.setdefault("schemas", {})["Result"] = RESULT_SCHEMA
    schema["security"] = [{"bearer": []}, {"apiKey": []}]
    for path, operations in schema.get("paths", {}).items():
        for method, op in operations.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            responses.pop("422", None)  # FastAPI's validation error: the gateway answers those with 400 and a Result
            if path.endswith("/serialization"):
                responses["406"] = {"description": "No format the Accept header allows is served; body is a Result"}
            if path in PUBLIC_PATHS:
                op["security"] = []
            errors = dict(_ALWAYS)
            if "requestBody" in op or method in ("patch", "put"):
                errors.update(_WITH_BODY)
            for status, text in errors.items():
                entry = responses.setdefault(str(status), {"description": text})
                entry["content"] = _RESULT
            for code, entry in list(responses.items()):
                if code.startswith(("4", "5")):
                    entry["content"] = _RESULT
                    entry.pop("headers", None)
            for suffix, media in _OTHER_MEDIA.items():
                if path.endswith(suffix) and "200" in responses:
                    responses["200"].setdefault("content", {}).update(media)
            if path == "/metrics" and "200" in responses:
                responses["200"]["content"].pop("application/json", None)
    for unused in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(unused, None)
    return schema


def install(app: Any) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(build())
        return app.openapi_schema

    app.openapi = openapi
