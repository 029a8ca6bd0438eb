"""Reading our error shape (google.rpc.Status with ErrorInfo / BadRequest) off a gRPC call."""

from __future__ import annotations

from typing import Any

from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status


async def status_of(call: Any) -> status_pb2.Status | None:
    """The rich status of a finished grpc.aio call, or None when it carried none."""
    return await rpc_status.aio.from_call(call)


def error_info(status: status_pb2.Status) -> error_details_pb2.ErrorInfo:
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    raise AssertionError(f"no ErrorInfo in {status}")


def bad_request(status: status_pb2.Status) -> error_details_pb2.BadRequest | None:
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            return bad
    return None
