"""Wiring of the identity service: dependencies, servicers, interceptors, health, reflection."""

from __future__ import annotations

import grpc
from portal.identity.v1 import account_directory_pb2_grpc, identity_pb2_grpc

from services.common.methods import service_names
from services.common.server import GrpcServer, create_server
from services.common.settings import ServiceSettings
from services.identity.servicer import AccountDirectoryServicer, IdentityServicer


async def build_server(settings: ServiceSettings) -> GrpcServer:
    def register(server: grpc.aio.Server) -> None:
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(IdentityServicer(), server)
        account_directory_pb2_grpc.add_AccountDirectoryServiceServicer_to_server(
            AccountDirectoryServicer(), server
        )

    return create_server(settings, services=service_names("identity"), register=register)
