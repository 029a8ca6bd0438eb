"""billing's internal API, as commerce calls it over gRPC (failures mapped to typed errors by
``services.common.peers``; ``NOT_FOUND`` is an answer). identity's directory is
``services.common.directory``."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from portal.billing.v1 import billing_pb2, billing_pb2_grpc

from services.common.peers import answer_or_none


@dataclass(frozen=True)
class BillingInternal:
    """billing's ``BillingInternalService`` (named apart from billing's own ``Billing`` bundle)."""

    stub: billing_pb2_grpc.BillingInternalServiceStub
    timeout_s: float = 3.0

    @classmethod
    def over(cls, channel: grpc.aio.Channel, timeout_s: float = 3.0) -> BillingInternal:
        return cls(billing_pb2_grpc.BillingInternalServiceStub(channel), timeout_s)

    async def checkout_profile(self, user_id: str) -> billing_pb2.GetCheckoutProfileResponse:
        """Profile (address snapshot) and pay-method facts; NOT_FOUND means no billing client."""
        request = billing_pb2.GetCheckoutProfileRequest(user_id=user_id)
        call = self.stub.GetCheckoutProfile(request, timeout=self.timeout_s)
        found = await answer_or_none("billing", call)
        return found if found is not None else billing_pb2.GetCheckoutProfileResponse()
