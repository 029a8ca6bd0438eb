"""The other services commerce calls over gRPC: identity's directory and billing's internal API.

gRPC failures become our typed errors here, so domain code never sees ``AioRpcError``: a peer that
is down or slow is ``UpstreamUnavailable``; ``NOT_FOUND`` is an answer (``None``), not an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import structlog
from portal.billing.v1 import billing_pb2, billing_pb2_grpc
from portal.identity.v1 import account_directory_pb2 as directory_pb2
from portal.identity.v1 import account_directory_pb2_grpc as directory_grpc

from services.common.errors import Internal, UpstreamUnavailable

log = structlog.get_logger("peers")

_UNAVAILABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNIMPLEMENTED,  # a peer deployed without the RPC yet
    }
)


def _mapped(peer: str, exc: grpc.aio.AioRpcError) -> Exception:
    log.warning("peer_call_failed", peer=peer, code=exc.code().name)
    if exc.code() in _UNAVAILABLE:
        return UpstreamUnavailable()
    return Internal()


@dataclass(frozen=True)
class Directory:
    """identity's ``AccountDirectoryService``."""

    stub: directory_grpc.AccountDirectoryServiceStub
    timeout_s: float = 3.0

    @classmethod
    def over(cls, channel: grpc.aio.Channel, timeout_s: float = 3.0) -> Directory:
        return cls(directory_grpc.AccountDirectoryServiceStub(channel), timeout_s)

    async def sf_account_of(self, user_id: str) -> str | None:
        """The Salesforce account id of a portal user; None when the user has no link."""
        request = directory_pb2.GetAccountLinksRequest(user_id=user_id)
        try:
            response = await self.stub.GetAccountLinks(request, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise _mapped("identity", exc) from None
        return response.links.sf_account_id or None

    async def users_of_sf_account(self, sf_account_id: str) -> list[str]:
        request = directory_pb2.ListUsersBySalesforceAccountRequest(sf_account_id=sf_account_id)
        try:
            response = await self.stub.ListUsersBySalesforceAccount(request, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return []
            raise _mapped("identity", exc) from None
        return [link.user_id for link in response.links]


@dataclass(frozen=True)
class Billing:
    """billing's ``BillingInternalService``."""

    stub: billing_pb2_grpc.BillingInternalServiceStub
    timeout_s: float = 3.0

    @classmethod
    def over(cls, channel: grpc.aio.Channel, timeout_s: float = 3.0) -> Billing:
        return cls(billing_pb2_grpc.BillingInternalServiceStub(channel), timeout_s)

    async def checkout_profile(self, user_id: str) -> billing_pb2.GetCheckoutProfileResponse:
        """Profile (address snapshot) and pay-method facts; NOT_FOUND means no billing client."""
        request = billing_pb2.GetCheckoutProfileRequest(user_id=user_id)
        try:
            return await self.stub.GetCheckoutProfile(request, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return billing_pb2.GetCheckoutProfileResponse()
            raise _mapped("billing", exc) from None
