"""gRPC adapters of the billing service. RPCs not defined here answer UNIMPLEMENTED."""

from __future__ import annotations

from portal.billing.v1 import billing_pb2, billing_pb2_grpc

from services.common.unimplemented import fill_unimplemented


@fill_unimplemented(billing_pb2.DESCRIPTOR.services_by_name["BillingService"])
class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    """``portal.billing.v1.BillingService``: thin adapters proto → domain → proto."""


@fill_unimplemented(billing_pb2.DESCRIPTOR.services_by_name["BillingInternalService"])
class BillingInternalServicer(billing_pb2_grpc.BillingInternalServiceServicer):
    """``portal.billing.v1.BillingInternalService``: thin adapters proto → domain → proto."""
