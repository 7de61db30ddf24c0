"""How an OpenAPI document is built from JSON handlers, and the pieces handlers describe
their answers with (INTEGER, STRING, obj).

Request bodies come from each handler's `schema` (the same Fields that validate it), so
the document cannot drift from what the server accepts; what a field's type cannot say (a
time-out needs an end) a handler adds as `rules`, JSON Schema its body must also satisfy.
Each handler also declares its `summary`, its success body (`answer`) and its refusals
(`refusals`: status -> codes, from the catalogue: wire/refusals.py).

The document is OpenAPI 3.0.3, on purpose: its schemas' dialect (JSON Schema draft
Wright-00) reads `1.0` as a number, not an integer, which is the protocol's rule (floats,
`1.0` too, are invalid amounts and ids); 3.1's dialect (2020-12) reads it as the integer 1
and cannot say what the server refuses. Nullable values are `nullable: true`.

The document itself is assembled where the routes are (service/openapi.py):

    python -m service.openapi > wire/openapi.json     # regenerate the file kept in the repo
"""
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import tornado.web

from .validation import object_schema

# A piece of the document: JSON as Python dicts and lists.
Json = dict[str, Any]
# status -> error codes
Refusals = Mapping[int, list[str]]

DOCUMENT_PATH = Path(__file__).with_name("openapi.json")

INTEGER: Json = {"type": "integer"}
STRING: Json = {"type": "string"}
# A refusal that names a limit (WAGER_LIMIT_REACHED, LOSS_LIMIT_REACHED,
# DEPOSIT_LIMIT_REACHED) adds "details" inside "error".
LIMIT_DETAILS: Json = {"type": "object", "required": ["limitType", "period", "currency", "limit", "used", "resetsAt"],
                       "properties": {"limitType": {"enum": ["deposit", "loss", "wager"]},
                                      "period": {"enum": ["day", "week", "month"]}, "currency": STRING,
                                      "limit": INTEGER, "used": INTEGER,
                                      "resetsAt": {"type": "string", "format": "date-time"}}}
ERROR: Json = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string", "pattern": "^[A-Z_]+$"}, "message": STRING,
                   "details": LIMIT_DETAILS}}}}


def obj(**properties: Json) -> Json:
    return {"type": "object", "required": list(properties), "properties": properties}


def _json(description: str, schema: Json) -> Json:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error_response(codes: list[str]) -> Json:
    schema: Json = {"allOf": [{"$ref": "#/components/schemas/Error"}]}
    if codes:
        schema["allOf"].append({"properties": {"error": {"properties": {"code": {"enum": sorted(codes)}}}}})
    return {"description": " | ".join(sorted(codes)) or "error",
            "content": {"application/json": {"schema": schema}}}


def _merge(*refusal_maps: Refusals) -> dict[int, list[str]]:
    merged: dict[int, list[str]] = {}
    for refusals in refusal_maps:
        for status, codes in refusals.items():
            merged.setdefault(status, [])
            merged[status] += [c for c in codes if c not in merged[status]]
    return merged


def method(handler: type[tornado.web.RequestHandler]) -> str:
    """The one method a JSON endpoint answers: get for the back office's views, else post."""
    from .handlers import allowed_methods
    return "get" if "GET" in allowed_methods(handler) else "post"


def described(handler: Any) -> list[tuple[str, Any]]:
    """(method, spec) for each method a handler answers: the handler itself for a path with
    one, each of its `verbs` for a path with several. A spec has operator_scope, summary,
    answer, refusals, schema and status."""
    if handler.verbs:
        return [(name.lower(), verb) for name, verb in handler.verbs.items()]
    return [(method(handler), handler)]


def _parameters(handler: type[tornado.web.RequestHandler]) -> list[Json]:
    return ([{"name": name, "in": "path", "required": True, "schema": dict(field.json_schema)}
             for name, field in getattr(handler, "parameters", {}).items()]
            + [{"name": name, "in": "query", "required": field.required, "schema": dict(field.json_schema)}
               for name, field in getattr(handler, "query", {}).items()])


def operation(handler: Any, verb: str | None = None, spec: Any = None, development: bool = False) -> Json:
    """The document of one method of a handler (a wire.handlers.JsonHandler class with its
    OpenAPI attributes; verb and spec: from described(handler)). development: a development
    mode server's, where launchGame and simulateRound take calls without a key."""
    if spec is None:
        verb, spec = described(handler)[0]
    signed = handler.signature_header is not None
    operator = spec.operator_scope is not None
    has_body = verb in ("post", "put")
    success = str(getattr(spec, "status", 200))
    responses: Json = {success: {"description": "success", "content": {"application/json": {"schema": spec.answer}}}}
    if getattr(spec, "csv", False):
        # ?format=csv: the same figures as CSV, in major units.
        responses[success]["content"]["text/csv"] = {"schema": STRING}
    refusals = _merge({400: ["INVALID_REQUEST"], 413: ["PAYLOAD_TOO_LARGE"], 503: ["SERVICE_UNAVAILABLE"],
                       500: ["INTERNAL_ERROR"]} if has_body else
                      {400: ["INVALID_REQUEST"], 503: ["SERVICE_UNAVAILABLE"], 500: ["INTERNAL_ERROR"]},
                      {401: ["INVALID_SIGNATURE"]} if signed else {},
                      {401: ["UNAUTHORIZED"], 403: ["FORBIDDEN"]} if operator else {},
                      getattr(spec, "refusals", {}),
                      # A path parameter a client normalises away ("..") reaches no endpoint.
                      {404: ["NOT_FOUND"]} if getattr(handler, "parameters", None) else {})
    for status, codes in sorted(refusals.items()):
        responses[str(status)] = _error_response(codes)
    operation_id = getattr(spec, "operation_id", None) or handler.__name__.removesuffix("Handler")
    doc = {"summary": spec.summary, "operationId": operation_id, "responses": responses}
    if _parameters(handler):
        doc["parameters"] = _parameters(handler)
    if has_body:
        body = object_schema(spec.schema or {})
        if getattr(spec, "rules", ()):
            body["allOf"] = list(spec.rules)
        content: Json = {"schema": body}
        if getattr(spec, "example", None):
            content["example"] = spec.example
        doc["requestBody"] = {"required": True, "content": {"application/json": content}}
    if signed:
        doc["security"] = [{handler.signature_header: []}]
    if operator:
        # {}: no credentials at all, an alternative only where the server takes them.
        doc["security"] = [{"operatorKey": []}, *([{}] if development and handler.open_in_development else [])]
        from .handlers import needs_scopes
        scopes = needs_scopes(spec.operator_scope)
        doc["description"] = ("Needs an operator key with the scope" + ("s " if len(scopes) > 1 else " ")
                              + " and ".join(f"`{scope}`" for scope in scopes)
                              + (" (none in development mode)." if handler.open_in_development else "."))
    if getattr(spec, "links", None):
        responses[success]["links"] = spec.links
    if getattr(handler, "replays", False):
        responses[success]["headers"] = {"Idempotent-Replay": {
            "description": "true when this is the stored answer of an earlier request",
            "schema": {"type": "string", "enum": ["true"]}}}
    return doc


def build(routes: Iterable[tuple[str, type[tornado.web.RequestHandler]]], development: bool = False) -> Json:
    """routes: (path, handler class) pairs of every JSON endpoint; development: the document
    of a development mode server (operation())."""
    health = obj(status=STRING, database=STRING)
    paths = {"/health": {"get": {"summary": "Up, and the database status", "operationId": "Health",
                                 "responses": {"200": _json("up", health), "503": _json("the database is down", health)}}},
             "/health/live": {"get": {"summary": "Liveness: the process answers (checks nothing else)",
                                      "operationId": "Live", "responses": {"200": _json("alive", obj(status=STRING))}}},
             "/health/ready": {"get": {"summary": "Readiness: the database answers and no shutdown has begun",
                                       "operationId": "Ready",
                                       "responses": {"200": _json("ready", health),
                                                     "503": _json("stopping, or the database is down", health)}}},
             "/metrics": {"get": {"summary": "Prometheus metrics (all processes)", "operationId": "Metrics",
                                  "responses": {"200": {"description": "Prometheus text format",
                                                        "content": {"text/plain": {"schema": STRING}}}}}},
             "/openapi.json": {"get": {"summary": "This document", "operationId": "OpenApi",
                                       "responses": {"200": {"description": "OpenAPI 3.0.3",
                                                             "content": {"application/json": {}}}}}}}
    for path, handler in routes:
        paths[path] = {verb: operation(handler, verb, spec, development) for verb, spec in described(handler)}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Casino and game provider: seamless wallet", "version": "1.0.0",
                 "description": "The wire contract of docs/protocol.md. Amounts are integers in minor "
                                "units. Signed endpoints carry an HMAC-SHA256 signature in their header: "
                                "v2 `t=<unix seconds>,kid=<key id>,v2=<hex of HMAC(<t>.<METHOD>.<path>.<raw "
                                "body>)>`, or v1 (the hex HMAC of the raw body alone) from counterparts "
                                "allowed it. Operator endpoints take `Authorization: Bearer <key>`."},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {
                "x-casino-signature": {"type": "apiKey", "in": "header", "name": "x-casino-signature",
                                       "description": "A provider's signature (v2, or v1 where allowed) with one "
                                                      "of its keys at the casino"},
                "x-provider-signature": {"type": "apiKey", "in": "header", "name": "x-provider-signature",
                                         "description": "A casino's signature (v2, or v1 where allowed) with one "
                                                        "of its keys at the provider"},
                "operatorKey": {"type": "http", "scheme": "bearer",
                                "description": "An operator key (`<key id>.<secret>`, or OPERATOR_KEY) with the "
                                               "operation's scope"},
            },
        },
    }


def error_codes(document: Json) -> set[str]:
    """Every error code the document's operations name."""
    codes: set[str] = set()
    for operations in document["paths"].values():
        for operation in operations.values():
            for answer in operation["responses"].values():
                schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
                for part in schema.get("allOf", [])[1:]:
                    codes.update(part["properties"]["error"]["properties"]["code"]["enum"])
    return codes


def render(document: Json) -> str:
    return json.dumps(document, indent=2) + "\n"
