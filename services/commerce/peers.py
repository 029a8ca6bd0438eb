"""The other services commerce calls over gRPC: identity's directory and billing's internal API
(failures mapped to typed errors by ``services.common.peers``; ``NOT_FOUND`` is an answer)."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from portal.billing.v1 import billing_pb2, billing_pb2_grpc

from services.common.peers import AccountDirectory, answer_or_none


@dataclass(frozen=True)
class Directory:
    """identity's ``AccountDirectoryService``, as commerce needs it (user ids ↔ accounts)."""

    directory: AccountDirectory

    @classmethod
    def over(cls, channel: grpc.aio.Channel, timeout_s: float = 3.0) -> Directory:
        return cls(AccountDirectory(channel, timeout_s))

    async def sf_account_of(self, user_id: str) -> str | None:
        """The Salesforce account id of a portal user; None when the user has no link."""
        links = await self.directory.links(user_id)
        return (links.sf_account_id or None) if links is not None else None

    async def users_of_sf_account(self, sf_account_id: str) -> list[str]:
        return [link.user_id for link in await self.directory.users_of_sf_account(sf_account_id)]


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
        call = self.stub.GetCheckoutProfile(request, timeout=self.timeout_s)
        found = await answer_or_none("billing", call)
        return found if found is not None else billing_pb2.GetCheckoutProfileResponse()
