"""Wiring of the commerce service: dependencies, servicers, interceptors, health, reflection."""

from __future__ import annotations

import grpc
from portal.commerce.v1 import catalog_pb2_grpc, orders_pb2_grpc

from services.commerce.servicer import CatalogServicer, OrderServicer
from services.common.methods import service_names
from services.common.server import GrpcServer, create_server
from services.common.settings import ServiceSettings


async def build_server(settings: ServiceSettings) -> GrpcServer:
    def register(server: grpc.aio.Server) -> None:
        catalog_pb2_grpc.add_CatalogServiceServicer_to_server(CatalogServicer(), server)
        orders_pb2_grpc.add_OrderServiceServicer_to_server(OrderServicer(), server)

    return create_server(settings, services=service_names("commerce"), register=register)
