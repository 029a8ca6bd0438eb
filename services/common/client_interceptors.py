"""Client-side propagation of the request id: service-to-service gRPC calls and outbound HTTP.

Only the request id travels (``x-request-id``): never the caller's token or any other metadata.
A call that already carries an ``x-request-id`` keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import httpx

from services.common import context

HEADER = "x-request-id"
MAX_HTTP_ID = 128


def _with_request_id(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
    rid = context.request_id.get()
    if not rid:
        return details
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    if HEADER in metadata:
        return details
    metadata.add(HEADER, rid)
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout,
        metadata=metadata,
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class RequestIdUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(_with_request_id(client_call_details), request)


class RequestIdUnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(_with_request_id(client_call_details), request)


def request_id_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """The interceptors every internal channel gets (see ``upstreams.channel``)."""
    return [RequestIdUnaryUnary(), RequestIdUnaryStream()]


async def add_request_id_header(request: httpx.Request) -> None:
    """httpx ``request`` event hook: ``X-Request-Id`` on outbound calls to the systems of record
    (a correlation id only, so their logs can be matched with ours)."""
    rid = context.request_id.get()
    # A client may pick its own id: pass on only a plausible one (bounded, printable ASCII).
    plausible = 0 < len(rid) <= MAX_HTTP_ID and rid.isascii() and rid.isprintable()
    if plausible and HEADER not in request.headers:
        request.headers[HEADER] = rid
