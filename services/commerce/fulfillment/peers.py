"""identity's AccountDirectoryService, as fulfillment needs it: Salesforce account → WHMCS client.

(commerce's own ``peers.Directory`` answers user ids only; this one keeps the fulfillment
package self-contained.) gRPC failures become typed errors here, so the domain never sees
``AioRpcError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from portal.identity.v1 import account_directory_pb2 as directory_pb2
from portal.identity.v1 import account_directory_pb2_grpc as directory_grpc

from services.common.errors import Internal, UpstreamUnavailable

_TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)


@dataclass(frozen=True)
class WhmcsClients:
    stub: directory_grpc.AccountDirectoryServiceStub
    timeout_s: float = 3.0

    @classmethod
    def over(cls, channel: grpc.aio.Channel, timeout_s: float = 3.0) -> WhmcsClients:
        return cls(directory_grpc.AccountDirectoryServiceStub(channel), timeout_s)

    async def of_sf_account(self, sf_account_id: str) -> int | None:
        """The WHMCS client mapped to a Salesforce account (None when nobody is linked)."""
        request = directory_pb2.ListUsersBySalesforceAccountRequest(sf_account_id=sf_account_id)
        try:
            response = await self.stub.ListUsersBySalesforceAccount(request, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            if exc.code() in _TRANSIENT:
                raise UpstreamUnavailable() from None
            raise Internal() from None
        ids = [link.whmcs_client_id for link in response.links if link.whmcs_client_id > 0]
        return ids[0] if ids else None
