"""The OpenAPI 3.1 document of both systems, built from the handlers themselves.

Request bodies come from each handler's `schema` (the same Fields that validate it), so
the document cannot drift from what the server accepts. Each handler also declares its
`summary`, its success body (`answer`) and its refusals (`refusals`: status -> codes).

    python -m wire.openapi > wire/openapi.json     # regenerate the file kept in the repo
"""
import json
import sys
from pathlib import Path

from .validation import object_schema

DOCUMENT_PATH = Path(__file__).with_name("openapi.json")

INTEGER = {"type": "integer"}
STRING = {"type": "string"}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string", "pattern": "^[A-Z_]+$"}, "message": STRING}}}}


def obj(**properties):
    return {"type": "object", "required": list(properties), "properties": properties}


def _error_response(codes):
    schema = {"allOf": [{"$ref": "#/components/schemas/Error"}]}
    if codes:
        schema["allOf"].append({"properties": {"error": {"properties": {"code": {"enum": sorted(codes)}}}}})
    return {"description": " | ".join(sorted(codes)) or "error",
            "content": {"application/json": {"schema": schema}}}


def operation(handler):
    signed = handler.signature_header is not None
    responses = {"200": {"description": "success", "content": {"application/json": {"schema": handler.answer}}}}
    refusals = {400: ["INVALID_REQUEST"], 413: ["PAYLOAD_TOO_LARGE"], 503: ["SERVICE_UNAVAILABLE"],
                500: ["INTERNAL_ERROR"], **({401: ["INVALID_SIGNATURE"]} if signed else {}),
                **getattr(handler, "refusals", {})}
    for status, codes in sorted(refusals.items()):
        responses[str(status)] = _error_response(codes)
    doc = {"summary": handler.summary, "operationId": handler.__name__.removesuffix("Handler"),
           "requestBody": {"required": True, "content": {"application/json": {
               "schema": object_schema(handler.schema or {})}}},
           "responses": responses}
    if signed:
        doc["security"] = [{handler.signature_header: []}]
    if getattr(handler, "replays", False):
        responses["200"]["headers"] = {"Idempotent-Replay": {
            "description": "true when this is the stored answer of an earlier request",
            "schema": {"type": "string", "enum": ["true"]}}}
    return doc


def build(routes):
    """routes: (path, handler class) pairs of every JSON endpoint."""
    paths = {"/health": {"get": {"summary": "Liveness and database status", "operationId": "Health",
                                 "responses": {"200": {"description": "up", "content": {"application/json": {
                                     "schema": obj(status=STRING, database=STRING)}}},
                                     "503": {"description": "the database is down", "content": {
                                         "application/json": {"schema": obj(status=STRING, database=STRING)}}}}}},
             "/metrics": {"get": {"summary": "Prometheus metrics (all processes)", "operationId": "Metrics",
                                  "responses": {"200": {"description": "Prometheus text format",
                                                        "content": {"text/plain": {"schema": STRING}}}}}},
             "/openapi.json": {"get": {"summary": "This document", "operationId": "OpenApi",
                                       "responses": {"200": {"description": "OpenAPI 3.1",
                                                             "content": {"application/json": {}}}}}}}
    for path, handler in routes:
        paths[path] = {"post": operation(handler)}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Casino and game provider: seamless wallet", "version": "1.0.0",
                 "description": "The wire contract of ../shared/PROTOCOL.md. Amounts are integers in minor "
                                "units. Signed endpoints carry the lower-case hex HMAC-SHA256 of the exact "
                                "raw body in their header."},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {
                "x-casino-signature": {"type": "apiKey", "in": "header", "name": "x-casino-signature",
                                       "description": "HMAC-SHA256 of the raw body with CASINO_SECRET"},
                "x-provider-signature": {"type": "apiKey", "in": "header", "name": "x-provider-signature",
                                         "description": "HMAC-SHA256 of the raw body with PROVIDER_SECRET"},
            },
        },
    }


def render(document):
    return json.dumps(document, indent=2) + "\n"


if __name__ == "__main__":
    from server import json_routes

    sys.stdout.write(render(build(json_routes())))
