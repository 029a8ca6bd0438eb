"""Calling the other services' internal gRPC APIs: one rule for turning a peer's gRPC failure into
our typed errors (identity's directory client is ``services.common.directory``).

A peer that is down, slow, overloaded or deployed without the RPC yet is ``UpstreamUnavailable``
(the caller sees the friendly 503); ``NOT_FOUND`` is an answer (``None`` / empty), not an error;
anything else is ``Internal`` (details go to the log). Domain code never sees ``AioRpcError``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import grpc
import structlog

from services.common.errors import Internal, PortalError, UpstreamUnavailable

log = structlog.get_logger("peers")
T = TypeVar("T")

TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNIMPLEMENTED,  # a peer deployed without the RPC yet
    }
)


def peer_error(peer: str, exc: grpc.aio.AioRpcError) -> PortalError:
    """The typed error for a failed call to ``peer`` (not for NOT_FOUND, which is an answer)."""
    log.warning("peer_call_failed", peer=peer, code=exc.code().name)
    return UpstreamUnavailable() if exc.code() in TRANSIENT else Internal()


async def answer_or_none(peer: str, call: Awaitable[T]) -> T | None:
    """The response of ``call``; None when the peer answered NOT_FOUND."""
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise peer_error(peer, exc) from None
