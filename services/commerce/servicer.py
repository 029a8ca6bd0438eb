"""gRPC adapters of the commerce service. RPCs not defined here answer UNIMPLEMENTED."""

from __future__ import annotations

from portal.commerce.v1 import catalog_pb2, catalog_pb2_grpc, orders_pb2, orders_pb2_grpc

from services.common.unimplemented import fill_unimplemented


@fill_unimplemented(catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"])
class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    """``portal.commerce.v1.CatalogService``: thin adapters proto → domain → proto."""


@fill_unimplemented(orders_pb2.DESCRIPTOR.services_by_name["OrderService"])
class OrderServicer(orders_pb2_grpc.OrderServiceServicer):
    """``portal.commerce.v1.OrderService``: thin adapters proto → domain → proto."""
