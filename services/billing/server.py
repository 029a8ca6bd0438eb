"""Wiring of the billing service: dependencies, servicers, interceptors, health, reflection."""

from __future__ import annotations

import grpc
from portal.billing.v1 import billing_pb2_grpc

from services.billing.servicer import BillingInternalServicer, BillingServicer
from services.common.methods import service_names
from services.common.server import GrpcServer, create_server
from services.common.settings import ServiceSettings


async def build_server(settings: ServiceSettings) -> GrpcServer:
    def register(server: grpc.aio.Server) -> None:
        billing_pb2_grpc.add_BillingServiceServicer_to_server(BillingServicer(), server)
        billing_pb2_grpc.add_BillingInternalServiceServicer_to_server(
            BillingInternalServicer(), server
        )

    return create_server(settings, services=service_names("billing"), register=register)
