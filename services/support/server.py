"""Wiring of the support service: dependencies, servicers, interceptors, health, reflection."""

from __future__ import annotations

import grpc
from portal.support.v1 import support_pb2_grpc

from services.common.methods import service_names
from services.common.server import GrpcServer, create_server
from services.common.settings import ServiceSettings
from services.support.servicer import SupportServicer


async def build_server(settings: ServiceSettings) -> GrpcServer:
    def register(server: grpc.aio.Server) -> None:
        support_pb2_grpc.add_SupportServiceServicer_to_server(SupportServicer(), server)

    return create_server(settings, services=service_names("support"), register=register)
