"""Calling the other services' internal gRPC APIs: one client for identity's account directory,
and one rule for turning a peer's gRPC failure into our typed errors.

A peer that is down, slow, overloaded or deployed without the RPC yet is ``UpstreamUnavailable``
(the caller sees the friendly 503); ``NOT_FOUND`` is an answer (``None`` / empty), not an error;
anything else is ``Internal`` (details go to the log). Domain code never sees ``AioRpcError``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import grpc
import structlog
from portal.identity.v1 import account_directory_pb2 as pb
from portal.identity.v1 import account_directory_pb2_grpc as pb_grpc

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


class AccountDirectory:
    """identity's internal ``AccountDirectoryService``: user ↔ WHMCS client ↔ Salesforce account."""

    def __init__(self, channel: grpc.aio.Channel, timeout_s: float = 3.0) -> None:
        self._stub = pb_grpc.AccountDirectoryServiceStub(channel)
        self._timeout_s = timeout_s

    async def links(self, user_id: str) -> pb.AccountLinks | None:
        """The links of a portal user; None when identity knows no such user."""
        request = pb.GetAccountLinksRequest(user_id=user_id)
        found = await answer_or_none(
            "identity", self._stub.GetAccountLinks(request, timeout=self._timeout_s)
        )
        return found.links if found is not None else None

    async def users_of_sf_account(self, sf_account_id: str) -> list[pb.AccountLinks]:
        """Every portal user mapped to a Salesforce account (often one, possibly none)."""
        request = pb.ListUsersBySalesforceAccountRequest(sf_account_id=sf_account_id)
        found = await answer_or_none(
            "identity",
            self._stub.ListUsersBySalesforceAccount(request, timeout=self._timeout_s),
        )
        return list(found.links) if found is not None else []

    async def user_of_whmcs_client(self, whmcs_client_id: int) -> pb.AccountLinks | None:
        """The portal user mapped to a WHMCS client; None when nobody is."""
        request = pb.GetUserByWhmcsClientRequest(whmcs_client_id=whmcs_client_id)
        found = await answer_or_none(
            "identity", self._stub.GetUserByWhmcsClient(request, timeout=self._timeout_s)
        )
        return found.links if found is not None else None
