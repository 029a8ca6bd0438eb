"""gRPC adapters of the identity service: proto -> domain call -> proto, nothing else.

``IdentityServicer`` / ``AccountDirectoryServicer`` are the bases (every RPC UNIMPLEMENTED, usable
without dependencies, e.g. by the auth tests); the adapters below implement them over the domain.
"""

from __future__ import annotations

import grpc
from portal.identity.v1 import (
    account_directory_pb2,
    account_directory_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
)

from services.common.unimplemented import fill_unimplemented
from services.identity.directory import Directory


@fill_unimplemented(identity_pb2.DESCRIPTOR.services_by_name["IdentityService"])
class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    """``portal.identity.v1.IdentityService`` with every RPC answering UNIMPLEMENTED."""


@fill_unimplemented(account_directory_pb2.DESCRIPTOR.services_by_name["AccountDirectoryService"])
class AccountDirectoryServicer(account_directory_pb2_grpc.AccountDirectoryServiceServicer):
    """``portal.identity.v1.AccountDirectoryService`` with every RPC answering UNIMPLEMENTED."""


class DirectoryAdapter(AccountDirectoryServicer):
    """``portal.identity.v1.AccountDirectoryService`` (internal: service ports only)."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    async def GetAccountLinks(
        self,
        request: account_directory_pb2.GetAccountLinksRequest,
        context: grpc.aio.ServicerContext,
    ) -> account_directory_pb2.GetAccountLinksResponse:
        links = await self._directory.links_of_user(request.user_id)
        return account_directory_pb2.GetAccountLinksResponse(links=links)

    async def ListUsersBySalesforceAccount(
        self,
        request: account_directory_pb2.ListUsersBySalesforceAccountRequest,
        context: grpc.aio.ServicerContext,
    ) -> account_directory_pb2.ListUsersBySalesforceAccountResponse:
        links = await self._directory.users_of_sf_account(request.sf_account_id)
        return account_directory_pb2.ListUsersBySalesforceAccountResponse(links=links)

    async def GetUserByWhmcsClient(
        self,
        request: account_directory_pb2.GetUserByWhmcsClientRequest,
        context: grpc.aio.ServicerContext,
    ) -> account_directory_pb2.GetUserByWhmcsClientResponse:
        links = await self._directory.user_of_whmcs_client(request.whmcs_client_id)
        return account_directory_pb2.GetUserByWhmcsClientResponse(links=links)
