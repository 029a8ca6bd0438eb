"""Every error the clients raise becomes the right gRPC status through the existing mapping."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2

from services.common.clients.freebit_codes import FreebitRejected
from services.common.clients.resilience import BreakerOpen, Unreachable
from services.common.clients.whmcs_wire import WhmcsRejected
from services.common.errors import DuplicateRecord, ReplayIdInvalid
from services.common.interceptors import status_for


def _reason(status) -> str:
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return info.reason


def test_unavailable_family_is_upstream_unavailable_with_a_friendly_message() -> None:
    for error in (Unreachable("HTTP 503 secret-free detail"), BreakerOpen()):
        status = status_for(error)
        assert status.code == grpc.StatusCode.UNAVAILABLE.value[0]
        assert _reason(status) == "UPSTREAM_UNAVAILABLE"
        assert status.message == "This service is temporarily unavailable. Please try again later."


def test_unhandled_rejections_are_internal_and_hide_the_upstream_text() -> None:
    for error in (
        WhmcsRejected("Invalid Payment Method. Valid options include mailin"),
        FreebitRejected("400", "400-356", "aladinOperated=10 ..."),
        DuplicateRecord("salesforce", "DUPLICATE_VALUE", "duplicate value found: x"),
        ReplayIdInvalid("salesforce_pubsub", "corrupted", "replay id 00"),
    ):
        status = status_for(error)
        assert status.code == grpc.StatusCode.INTERNAL.value[0]
        assert _reason(status) == "INTERNAL"
        assert "Invalid Payment" not in status.message and "400-356" not in status.message
