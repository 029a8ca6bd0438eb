"""gRPC adapters of the support service. RPCs not defined here answer UNIMPLEMENTED."""

from __future__ import annotations

from portal.support.v1 import support_pb2, support_pb2_grpc

from services.common.unimplemented import fill_unimplemented


@fill_unimplemented(support_pb2.DESCRIPTOR.services_by_name["SupportService"])
class SupportServicer(support_pb2_grpc.SupportServiceServicer):
    """``portal.support.v1.SupportService``: thin adapters proto → domain → proto."""
