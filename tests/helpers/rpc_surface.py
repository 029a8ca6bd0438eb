"""The public RPC surface read from the descriptors, and one way to call any of its methods
through the gateway: REST (from the ``google.api.http`` rule) or native gRPC.

Used by the authorization matrix so that a new RPC is found, classified and called without
anyone writing its URL or stub by hand.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
from google.api import annotations_pb2 as http_annotations
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.rpc import error_details_pb2, status_pb2

from services.common.methods import METHODS, PUBLIC_SERVICES

_VARIABLE = re.compile(r"\{([a-z_.]+)(?:=[^}]*)?\}")
# Request fields that name something the caller may not own: ids, numbers, AIP resource names
# and page positions.
_REFERENCE = re.compile(r"(?:^|_)(?:id|number)$|^name$|^page_token$")


@dataclass(frozen=True)
class Endpoint:
    """One public RPC with its HTTP rule."""

    method: MethodDescriptor
    verb: str  # get, post, patch, put, delete
    template: str  # /v1/invoices/{invoice_id}
    body: str  # "*", a field name, or "" (no body)

    @property
    def full_name(self) -> str:  # portal.billing.v1.BillingService.GetInvoice
        return str(self.method.full_name)

    @property
    def grpc_path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def needs_token(self) -> bool:
        return METHODS[self.grpc_path].needs_token

    @property
    def path_variables(self) -> tuple[str, ...]:
        return tuple(_VARIABLE.findall(self.template))

    @property
    def reference_fields(self) -> tuple[str, ...]:
        """Dotted paths of the request fields that name a resource or a position: the path
        variables and every (nested) string field called ``id``, ``*_id``, ``*_number``,
        ``name`` or ``page_token``."""
        found = set(self.path_variables)
        found.update(_references(self.method.input_type, "", depth=0))
        return tuple(sorted(found))


def _references(message: Descriptor, prefix: str, depth: int) -> list[str]:
    out: list[str] = []
    for field in message.fields:
        name = f"{prefix}{field.name}"
        if field.type == FieldDescriptor.TYPE_STRING and _REFERENCE.search(field.name):
            out.append(name)
        elif (
            field.type == FieldDescriptor.TYPE_MESSAGE
            and field.message_type is not None
            and not field.message_type.full_name.startswith("google.")
            and depth < 3
        ):
            out += _references(field.message_type, f"{name}.", depth + 1)
    return out


def public_endpoints() -> list[Endpoint]:
    """Every RPC of the public services that has an HTTP rule (internal services have none and
    are not routed)."""
    out = []
    for services in PUBLIC_SERVICES.values():
        for service in services:
            for method in service.methods:
                rule = method.GetOptions().Extensions[http_annotations.http]
                verb = rule.WhichOneof("pattern")
                if verb and verb != "custom":
                    out.append(Endpoint(method, verb, getattr(rule, verb), rule.body))
    return out


# -- calling -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What a caller saw, in one form for both transports."""

    ok: bool
    status: int  # HTTP status (REST) or gRPC code value (gRPC)
    code: int  # gRPC code value (REST: the body's "code")
    reason: str  # ErrorInfo.reason, "" when none
    domain: str
    raw: str  # the whole answer as text: body, or message + status details


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _set(doc: dict[str, Any], dotted: str, value: str) -> dict[str, Any]:
    """A copy of ``doc`` (proto JSON) with ``dotted`` (snake_case, lists: first element) set."""
    out = json.loads(json.dumps(doc))
    node: Any = out
    *parents, leaf = [_camel(p) for p in dotted.split(".")]
    for part in parents:
        node = node.setdefault(part, {})
        if isinstance(node, list):
            node = node[0]
    node[leaf] = value
    return dict(out)


def request_document(fields: dict[str, Any], reference: str, value: str) -> dict[str, Any]:
    return _set(fields, reference, value)


async def call_rest(
    gateway: httpx.AsyncClient,
    endpoint: Endpoint,
    document: dict[str, Any],
    headers: dict[str, str],
) -> Outcome:
    """``document`` (proto JSON, camelCase) through the HTTP rule: path variables into the path
    (percent-encoded, ``/`` too), the rest into the body or, without one, the query."""
    rest = dict(document)

    def fill(match: re.Match[str]) -> str:
        return urllib.parse.quote(str(rest.pop(_camel(match.group(1)), "")), safe="")

    path = _VARIABLE.sub(fill, endpoint.template)
    if endpoint.body:
        response = await gateway.request(endpoint.verb.upper(), path, json=rest, headers=headers)
    else:
        response = await gateway.request(endpoint.verb.upper(), path, params=rest, headers=headers)
    if response.is_success:
        return Outcome(True, response.status_code, 0, "", "", response.text)
    try:
        body = response.json()
        info = next(d for d in body["details"] if d["@type"].endswith("ErrorInfo"))
        reason, domain, code = str(info["reason"]), str(info["domain"]), int(body["code"])
    except (ValueError, KeyError, StopIteration, TypeError):
        reason, domain, code = "", "", -1
    return Outcome(False, response.status_code, code, reason, domain, response.text)


async def call_grpc(
    channel: grpc.aio.Channel,
    endpoint: Endpoint,
    document: dict[str, Any],
    token: str,
) -> Outcome:
    """``document`` as the request message of ``endpoint``, unary (or the first message of a
    server stream), with ``authorization`` metadata."""
    request_class = message_factory.GetMessageClass(endpoint.method.input_type)
    response_class = message_factory.GetMessageClass(endpoint.method.output_type)
    request = json_format.ParseDict(document, request_class())
    metadata = (("authorization", f"Bearer {token}"),)
    try:
        if endpoint.method.server_streaming:
            stream = channel.unary_stream(
                endpoint.grpc_path,
                request_serializer=request_class.SerializeToString,
                response_deserializer=response_class.FromString,
            )(request, metadata=metadata, timeout=10)
            first = await stream.read()
            stream.cancel()
            return Outcome(True, 0, 0, "", "", str(first))
        unary = channel.unary_unary(
            endpoint.grpc_path,
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )
        answer = await unary(request, metadata=metadata, timeout=10)
        return Outcome(True, 0, 0, "", "", json_format.MessageToJson(answer))
    except grpc.aio.AioRpcError as err:
        return grpc_outcome(err)


def grpc_outcome(err: grpc.aio.AioRpcError) -> Outcome:
    """An error of a gRPC call with our rich status (``grpc-status-details-bin``) unpacked."""
    details = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin", b"")
    status = status_pb2.Status.FromString(details) if isinstance(details, bytes) else None
    reason = domain = ""
    text = err.details() or ""
    if status is not None:
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                reason, domain = info.reason, info.domain
        text += "\n" + json_format.MessageToJson(status)
    code = err.code().value[0]
    return Outcome(False, code, code, reason, domain, text)
