"""``make openapi``: the REST surface as an OpenAPI 3.1 document, generated from the protos.

Paths and verbs come from each public RPC's ``google.api.http`` rule, the schemas from the messages
in their proto3 JSON mapping (lowerCamelCase, int64 as string, enums by name, Timestamp as
``date-time``), the security from the ``(portal.common.v1.auth)`` option and the descriptions from
the proto comments (the descriptor set's source info), ``required`` from each field's
``google.api.field_behavior`` (REQUIRED, OUTPUT_ONLY and IDENTIFIER fields are always present;
every field of a message a response can carry must say which, or the build fails). Written to
``openapi/openapi.json``
(committed, drift-checked by ``make gen --check``); Envoy serves it at ``/openapi.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
from pathlib import Path
from typing import Any

from google.api import annotations_pb2 as http_annotations
from google.api import field_behavior_pb2, http_pb2
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import (
    Descriptor,
    EnumDescriptor,
    FieldDescriptor,
    MethodDescriptor,
    ServiceDescriptor,
)

from services.common.errors import PortalError
from services.common.methods import METHODS, PUBLIC_SERVICES, Auth
from tools.envoy_config import EDGE_REASONS

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_JSON = ROOT / "openapi" / "openapi.json"
DESCRIPTOR_SET = ROOT / "gen" / "portal_descriptor.pb"
Schema = dict[str, Any]
Comments = dict[str, str]

ERROR_STATUSES = {
    "400": "Invalid request (INVALID_ARGUMENT, FAILED_PRECONDITION), e.g. `VALIDATION_FAILED`.",
    "401": "Missing, expired or invalid token, or wrong credentials (UNAUTHENTICATED).",
    "404": "Not found, or not the caller's (NOT_FOUND).",
    "409": "Already exists (ALREADY_EXISTS).",
    "429": "Too many attempts (RESOURCE_EXHAUSTED, `RATE_LIMITED`).",
    "500": "Unexpected error (INTERNAL).",
    "503": "A system of record is unavailable (UNAVAILABLE, `UPSTREAM_UNAVAILABLE`).",
}
SIGNATURE_HEADER = "X-Portal-Signature"

# Well-known types in their proto3 JSON mapping.
WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?\d+(\.\d+)?s$"},
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": "Comma-separated lowerCamelCase field paths.",
    },
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
    "google.protobuf.StringValue": {"type": "string"},
    "google.protobuf.BoolValue": {"type": "boolean"},
    "google.protobuf.Int32Value": {"type": "integer", "format": "int32"},
    "google.protobuf.Int64Value": {"type": "string", "format": "int64"},
    # The raw HTTP body (any content type), e.g. the webhook's signed payload.
    "google.api.HttpBody": {"type": "string", "format": "binary"},
}
HTTP_BODY = "google.api.HttpBody"

_INT64 = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
}
_INT32 = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_FIXED32,
}


# -- comments (source info) ---------------------------------------------------------------------

# Lines meant for tools (buf's lint exceptions and the reason given with them), not for readers.
_TOOL_LINE = re.compile(r"^(buf:lint:ignore .*|\(HttpBody is .*\))$")


_SNAKE_NAME = re.compile(r"`([a-z][a-z0-9]*(?:_[a-z0-9]+)+)`")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _clean(comment: str) -> str:
    """A proto comment for readers of the JSON API: tool lines dropped, `field_names` in the
    lowerCamelCase the bodies use."""
    lines = (line.strip() for line in comment.strip().splitlines())
    text = "\n".join(line for line in lines if not _TOOL_LINE.match(line)).strip()
    return _SNAKE_NAME.sub(lambda m: f"`{_camel(m.group(1))}`", text)


def _walk_messages(
    prefix: str, path: tuple[int, ...], msgs: Any, out: dict[tuple[int, ...], str]
) -> None:
    for i, m in enumerate(msgs):
        name, here = f"{prefix}.{m.name}", (*path, i)
        out[here] = name
        for j, f in enumerate(m.field):
            out[(*here, 2, j)] = f"{name}.{f.name}"
        for j, e in enumerate(m.enum_type):
            out[(*here, 4, j)] = f"{name}.{e.name}"
        _walk_messages(name, (*here, 3), m.nested_type, out)


def _names_by_path(f: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    """Source-info path → full name, for messages, fields, enums, services and methods."""
    out: dict[tuple[int, ...], str] = {}
    _walk_messages(f.package, (4,), f.message_type, out)
    for i, e in enumerate(f.enum_type):
        out[(5, i)] = f"{f.package}.{e.name}"
    for i, s in enumerate(f.service):
        out[(6, i)] = f"{f.package}.{s.name}"
        for j, m in enumerate(s.method):
            out[(6, i, 2, j)] = f"{f.package}.{s.name}.{m.name}"
    return out


def load_comments(path: Path = DESCRIPTOR_SET) -> Comments:
    """Full name → its leading comment, from a descriptor set built with source info."""
    fds = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())
    out: Comments = {}
    for f in fds.file:
        names = _names_by_path(f)
        for loc in f.source_code_info.location:
            name = names.get(tuple(loc.path))
            if name and loc.leading_comments.strip():
                out[name] = _clean(loc.leading_comments)
    return out


# -- schemas -------------------------------------------------------------------------------------


def ref(full_name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{full_name}"}


def _described(schema: Schema, text: str | None) -> Schema:
    return {**schema, "description": text} if text else schema


def scalar_schema(field: FieldDescriptor) -> Schema:
    """The JSON schema of one (non-repeated) value of a field."""
    t = field.type
    if t in _INT64:
        return {"type": "string", "format": "int64"}
    if t in _INT32:
        return {"type": "integer", "format": "int32"}
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return {"type": "number"}
    if t == FieldDescriptor.TYPE_BOOL:
        return {"type": "boolean"}
    if t == FieldDescriptor.TYPE_BYTES:
        return {"type": "string", "format": "byte"}
    if field.enum_type is not None:
        return ref(field.enum_type.full_name)
    if field.message_type is not None:
        name = field.message_type.full_name
        return dict(WELL_KNOWN[name]) if name in WELL_KNOWN else ref(name)
    return {"type": "string"}


def field_schema(field: FieldDescriptor, comments: Comments) -> Schema:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value = scalar_schema(field.message_type.fields_by_name["value"])
        schema: Schema = {"type": "object", "additionalProperties": value}
    elif field.is_repeated:
        schema = {"type": "array", "items": scalar_schema(field)}
    else:
        schema = scalar_schema(field)
    return _described(schema, comments.get(field.full_name))


FB = field_behavior_pb2
# Behaviours that mean the field is always there: in a request (REQUIRED) or in every answer.
ALWAYS_PRESENT = frozenset({FB.REQUIRED, FB.OUTPUT_ONLY, FB.IDENTIFIER})


def behaviors(field: FieldDescriptor) -> set[int]:
    return set(field.GetOptions().Extensions[field_behavior_pb2.field_behavior])


def message_schema(
    msg: Descriptor, comments: Comments, skip: frozenset[str] = frozenset()
) -> Schema:
    fields = [f for f in msg.fields if f.json_name not in skip]
    props = {f.json_name: field_schema(f, comments) for f in fields}
    schema: Schema = {"type": "object", "properties": props}
    required = [f.json_name for f in fields if behaviors(f) & ALWAYS_PRESENT]
    if required:
        schema["required"] = required
    return _described(schema, comments.get(msg.full_name))


def reachable(roots: list[Descriptor]) -> list[Descriptor]:
    """Every message (not well-known, not a map entry) reachable from ``roots``."""
    seen: dict[str, Descriptor] = {}
    todo = list(roots)
    while todo:
        d = todo.pop()
        if d.full_name in seen or d.full_name in WELL_KNOWN:
            continue
        seen[d.full_name] = d
        todo += [x for x in _referenced(d) if isinstance(x, Descriptor)]
    return list(seen.values())


def unannotated_response_fields(outputs: list[Descriptor]) -> list[str]:
    """Fields a response can carry that do not say whether they are always there."""
    return sorted(f.full_name for msg in reachable(outputs) for f in msg.fields if not behaviors(f))


def enum_schema(enum: EnumDescriptor, comments: Comments) -> Schema:
    schema: Schema = {"type": "string", "enum": [v.name for v in enum.values]}
    return _described(schema, comments.get(enum.full_name))


def _referenced(msg: Descriptor) -> list[Descriptor | EnumDescriptor]:
    out: list[Descriptor | EnumDescriptor] = []
    for f in msg.fields:
        if f.enum_type is not None:
            out.append(f.enum_type)
        elif f.message_type is not None:
            entry = f.message_type
            if entry.GetOptions().map_entry:
                out += _referenced(entry)
            elif entry.full_name not in WELL_KNOWN:
                out.append(entry)
    return out


def collect_schemas(roots: list[Descriptor], comments: Comments) -> dict[str, Schema]:
    """Schemas of every message and enum reachable from ``roots``, by full name."""
    out: dict[str, Schema] = {}
    todo: list[Descriptor | EnumDescriptor] = list(roots)
    while todo:
        d = todo.pop()
        if d.full_name in out:
            continue
        if isinstance(d, EnumDescriptor):
            out[d.full_name] = enum_schema(d, comments)
            continue
        out[d.full_name] = message_schema(d, comments)
        todo += _referenced(d)
    return dict(sorted(out.items()))


# -- operations ----------------------------------------------------------------------------------

_VERBS = ("get", "put", "post", "delete", "patch")
_TEMPLATE_VAR = re.compile(r"\{([^}=]+)(=[^}]*)?\}")


def http_rules(method: MethodDescriptor) -> list[http_pb2.HttpRule]:
    rule: http_pb2.HttpRule = method.GetOptions().Extensions[http_annotations.http]
    return [rule, *rule.additional_bindings] if rule.WhichOneof("pattern") else []


def verb_and_template(rule: http_pb2.HttpRule) -> tuple[str, str]:
    verb = rule.WhichOneof("pattern")
    if verb not in _VERBS:
        raise ValueError(f"unsupported HTTP rule pattern {verb!r}")
    return verb, str(getattr(rule, verb))


def _field_by_path(msg: Descriptor, dotted: str) -> FieldDescriptor:
    first, _, rest = dotted.partition(".")
    field: FieldDescriptor = msg.fields_by_name[first]
    if not rest:
        return field
    assert field.message_type is not None, dotted
    return _field_by_path(field.message_type, rest)


def openapi_path(template: str, msg: Descriptor) -> tuple[str, list[FieldDescriptor]]:
    """``/v1/invoices/{invoice_id}`` → ``/v1/invoices/{invoiceId}`` and the bound fields."""
    bound: list[FieldDescriptor] = []

    def sub(m: re.Match[str]) -> str:
        field = _field_by_path(msg, m.group(1))
        bound.append(field)
        return "{" + field.json_name + "}"

    return _TEMPLATE_VAR.sub(sub, template), bound


def _parameter(field: FieldDescriptor, where: str, comments: Comments) -> Schema:
    schema = field_schema(field, comments)
    description = schema.pop("description", None)
    param: Schema = {"name": field.json_name, "in": where, "schema": schema}
    if where == "path":
        param["required"] = True
    return _described(param, description)


def query_fields(msg: Descriptor, bound: list[FieldDescriptor]) -> list[FieldDescriptor]:
    taken = {f.full_name for f in bound}
    return [
        f
        for f in msg.fields
        if f.full_name not in taken
        and (f.message_type is None or f.message_type.full_name in WELL_KNOWN)
    ]


def _raw_body(description: str) -> Schema:
    return {
        "required": True,
        "description": description,
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    }


def request_body(
    rule: http_pb2.HttpRule, msg: Descriptor, bound: list[FieldDescriptor], comments: Comments
) -> Schema | None:
    if not rule.body:
        return None
    if rule.body != "*":
        field = msg.fields_by_name[rule.body]
        if field.message_type is not None and field.message_type.full_name == HTTP_BODY:
            return _raw_body(comments.get(field.full_name, "The raw request body."))
        return {"required": True, "content": _json(field_schema(field, comments))}
    if bound:
        skip = frozenset(f.json_name for f in bound)
        if len(skip) == len(msg.fields):
            return None  # everything is in the path: no body to send
        schema = message_schema(msg, comments, skip)
    else:
        schema = ref(msg.full_name)
    return {"required": True, "content": _json(schema)}


def _json(schema: Schema) -> Schema:
    return {"application/json": {"schema": schema}}


# Streams of raw Server-Sent Events (HttpBody) → the message each event's `data` holds.
SSE_DATA = {"portal.commerce.v1.OrderService.StreamOrderEvents": "portal.commerce.v1.Order"}


def success_response(method: MethodDescriptor, rule: http_pb2.HttpRule) -> Schema:
    out = method.output_type
    if method.full_name in SSE_DATA:
        data = SSE_DATA[method.full_name]
        return {
            "description": f"Server-Sent Events (for `EventSource`): `retry:` first, then one "
            f"event per change with `id:` and `data:` (a `{data.rsplit('.', 1)[-1]}` as JSON); "
            "`:` comment lines are heartbeats.",
            "headers": {"Cache-Control": {"schema": {"type": "string", "const": "no-store"}}},
            "content": {
                "text/event-stream": {"schema": {"type": "string"}, "x-sse-data": ref(data)}
            },
        }
    if out.full_name == HTTP_BODY:
        return {"description": "OK", "content": {"*/*": {"schema": {"type": "string"}}}}
    schema = (
        field_schema(out.fields_by_name[rule.response_body], {})
        if rule.response_body
        else ref(out.full_name)
    )
    if method.server_streaming:
        return {
            "description": "Server-Sent Events: one `data: <JSON message>` event per message.",
            "content": {"text/event-stream": {"schema": {"type": "string"}, "x-sse-data": schema}},
        }
    return {"description": "OK", "content": _json(schema)}


def error_responses() -> Schema:
    out: Schema = {"200": {}}
    for status in ERROR_STATUSES:
        out[status] = {"$ref": f"#/components/responses/Error{status}"}
    out["default"] = {"$ref": "#/components/responses/Error"}
    return out


def _summary(text: str | None, fallback: str) -> str:
    if not text:
        return fallback
    first = text.split("\n\n")[0].replace("\n", " ")
    return first.split(". ")[0].rstrip(".")


def operation(
    service: ServiceDescriptor,
    method: MethodDescriptor,
    rule: http_pb2.HttpRule,
    comments: Comments,
) -> tuple[str, str, Schema]:
    """(OpenAPI path, verb, operation object) of one HTTP binding of a method."""
    verb, template = verb_and_template(rule)
    path, bound = openapi_path(template, method.input_type)
    auth = METHODS[f"/{service.full_name}/{method.name}"].auth
    params = [_parameter(f, "path", comments) for f in bound]
    if not rule.body:
        params += [_parameter(f, "query", comments) for f in query_fields(method.input_type, bound)]
    if auth == Auth.AUTH_SIGNED_WEBHOOK:
        params.append(_signature_header())
    op: Schema = {
        "operationId": method.name,
        "tags": [service.name],
        "summary": _summary(comments.get(method.full_name), method.name),
    }
    if method.full_name in comments:
        op["description"] = comments[method.full_name]
    if params:
        op["parameters"] = params
    body = request_body(rule, method.input_type, bound, comments)
    if body:
        op["requestBody"] = body
    responses = error_responses()
    responses["200"] = success_response(method, rule)
    op["responses"] = responses
    op["security"] = [{"bearer": []}] if auth == Auth.AUTH_BEARER else []
    return path, verb, op


def _signature_header() -> Schema:
    return {
        "name": SIGNATURE_HEADER,
        "in": "header",
        "required": True,
        "description": "`sha256=<hex>`: HMAC-SHA256 of the raw body with the webhook secret.",
        "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
    }


# -- document ------------------------------------------------------------------------------------


def public_services() -> list[ServiceDescriptor]:
    return [s for services in PUBLIC_SERVICES.values() for s in services]


def _paths(
    comments: Comments,
) -> tuple[dict[str, Schema], list[Descriptor], list[Descriptor]]:
    """The paths, the request and response messages, and the response messages alone."""
    paths: dict[str, Schema] = {}
    roots: list[Descriptor] = []
    outputs: list[Descriptor] = []
    for service in public_services():
        for method in service.methods:
            for rule in http_rules(method):
                path, verb, op = operation(service, method, rule, comments)
                paths.setdefault(path, {})[verb] = op
            roots += [method.input_type, method.output_type]
            outputs.append(method.output_type)
    body = [r for r in roots if r.full_name != HTTP_BODY]
    return paths, body, [r for r in outputs if r.full_name != HTTP_BODY]


TYPE_URL = "type.googleapis.com/"
# Statuses whose answer says when to try again (Retry-After header, RetryInfo detail).
RETRYABLE = ("429", "503")


def error_reasons() -> list[str]:
    """Every ``ErrorInfo.reason``: the services' typed errors and the gateway's own replies.
    The services' servicers are imported first, so errors defined next to their domain code
    (e.g. billing's INVOICE_NOT_PAYABLE) are subclasses by then."""
    for process in PUBLIC_SERVICES:
        importlib.import_module(f"services.{process}.servicer")
    reasons: set[str] = set(EDGE_REASONS)
    todo: list[type[PortalError]] = [PortalError]
    while todo:
        cls = todo.pop()
        reasons.add(cls.reason)
        todo += cls.__subclasses__()
    return sorted(reasons)


def _detail_schemas(comments: Comments) -> dict[str, Schema]:
    """ErrorInfo, BadRequest and RetryInfo as they appear in ``details`` (``@type`` inline)."""
    from google.rpc import error_details_pb2 as ed

    details = [ed.ErrorInfo.DESCRIPTOR, ed.BadRequest.DESCRIPTOR, ed.RetryInfo.DESCRIPTOR]
    schemas = collect_schemas(details, comments)
    for d in details:
        schema = schemas[d.full_name]
        type_url = {"type": "string", "const": TYPE_URL + d.full_name}
        schema["properties"] = {"@type": type_url, **schema["properties"]}
        schema["required"] = ["@type", *schema["properties"].keys() - {"@type"}]
        schema["required"].sort(key=list(schema["properties"]).index)
    info = schemas["google.rpc.ErrorInfo"]["properties"]
    info["reason"] = {**ref("portal.ErrorReason"), "description": "Why it failed; see the table."}
    violation = schemas["google.rpc.BadRequest.FieldViolation"]
    violation["required"] = ["field", "description"]
    violation["properties"]["field"]["description"] = (
        "The field's path as the JSON body spells it (lowerCamelCase, e.g. `address.postcode`, "
        "`items[0].quantity`), or the query parameter's name."
    )
    schemas["portal.ErrorReason"] = {
        "type": "string",
        "enum": error_reasons(),
        "description": "`ErrorInfo.reason`: what went wrong, for code to branch on.",
    }
    return schemas


def _error_components(comments: Comments) -> tuple[dict[str, Schema], dict[str, Schema]]:
    schemas = _detail_schemas(comments)
    kinds = ["google.rpc.ErrorInfo", "google.rpc.BadRequest", "google.rpc.RetryInfo"]
    detail = {
        "oneOf": [ref(k) for k in kinds],
        "discriminator": {
            "propertyName": "@type",
            "mapping": {TYPE_URL + k: f"#/components/schemas/{k}" for k in kinds},
        },
    }
    schemas["google.rpc.Status"] = {
        "type": "object",
        "description": "The error shape of every error response (docs/api.md): an `ErrorInfo` "
        "detail always, "
        "`BadRequest` for field violations, `RetryInfo` when retrying later may succeed.",
        "properties": {
            "code": {"type": "integer", "format": "int32", "description": "The gRPC code."},
            "message": {"type": "string", "description": "Written for an end user."},
            "details": {"type": "array", "items": detail},
        },
        "required": ["code", "message", "details"],
    }
    error = _json(ref("google.rpc.Status"))
    responses: dict[str, Schema] = {
        "Error": {"description": "Error (google.rpc.Status)", "content": error}
    }
    for status, text in ERROR_STATUSES.items():
        responses[f"Error{status}"] = {"description": text, "content": error}
        if status in RETRYABLE:
            responses[f"Error{status}"]["headers"] = {"Retry-After": RETRY_AFTER}
    return schemas, responses


RETRY_AFTER: Schema = {
    "description": "Seconds to wait before trying again (also in the `RetryInfo` detail).",
    "schema": {"type": "integer", "minimum": 0},
}


def _tags(comments: Comments) -> list[Schema]:
    return [_described({"name": s.name}, comments.get(s.full_name)) for s in public_services()]


def build(comments: Comments | None = None) -> Schema:
    comments = load_comments() if comments is None else comments
    paths, roots, outputs = _paths(comments)
    missing = unannotated_response_fields(outputs)
    if missing:
        raise ValueError(
            "fields of response messages without google.api.field_behavior (REQUIRED, "
            "OUTPUT_ONLY or OPTIONAL): " + ", ".join(missing)
        )
    schemas = collect_schemas(roots, comments)
    error_schemas, responses = _error_components(comments)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Customer portal API",
            "version": "v1",
            "description": "Generated from the protos by `make openapi`; see docs/api.md.",
        },
        "servers": [
            {"url": "/", "description": "The gateway serving this document (try it out)."},
            {"url": "http://127.0.0.1:8080", "description": "`make run` on this machine."},
        ],
        "tags": _tags(comments),
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {**schemas, **error_schemas},
            "responses": responses,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def render(document: Schema) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write(path: Path = OPENAPI_JSON, descriptor_set: Path = DESCRIPTOR_SET) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(build(load_comments(descriptor_set))))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OPENAPI_JSON)
    args = parser.parse_args()
    print(f"wrote {write(args.out)}")


if __name__ == "__main__":
    main()
