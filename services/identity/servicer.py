"""gRPC adapters of the identity service. RPCs not defined here answer UNIMPLEMENTED."""

from __future__ import annotations

from portal.identity.v1 import (
    account_directory_pb2,
    account_directory_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
)

from services.common.unimplemented import fill_unimplemented


@fill_unimplemented(identity_pb2.DESCRIPTOR.services_by_name["IdentityService"])
class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    """``portal.identity.v1.IdentityService``: thin adapters proto → domain → proto."""


@fill_unimplemented(account_directory_pb2.DESCRIPTOR.services_by_name["AccountDirectoryService"])
class AccountDirectoryServicer(account_directory_pb2_grpc.AccountDirectoryServiceServicer):
    """``portal.identity.v1.AccountDirectoryService``: thin adapters proto → domain → proto."""
