"""Which Order events are written into cached orders in place, and how (``cdc/order_patch.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from portal.commerce.v1 import order_records_pb2
from portal.commerce.v1 import orders_pb2 as pb

from services.commerce.cdc.invalidation import IGNORED_ORDER_FIELDS
from services.commerce.cdc.order_patch import OrderPatch, applicable
from services.common.cache import Unpatchable
from services.common.clients.cdc import ChangeEvent


def event(
    change: str = "UPDATE",
    fields: dict[str, Any] | None = None,
    *,
    entity: str = "Order",
    diff: tuple[str, ...] = (),
    nulled: tuple[str, ...] = (),
) -> ChangeEvent:
    values = {"LastModifiedDate": 2000, "Status": "Approved"} if fields is None else fields
    return ChangeEvent(
        entity=entity, change_type=change, record_ids=("801A",),
        changed_fields=tuple(values) + nulled, nulled_fields=nulled, diff_fields=diff,
        transaction_key="t", sequence=1, commit_timestamp=datetime.now(UTC), commit_number=1,
        change_origin="", commit_user="", fields=values, replay_id=b"\x01",
    )  # fmt: skip


def record(modified_ms: int = 1000, order_id: str = "801A") -> order_records_pb2.OrderRecord:
    order = pb.Order(id=order_id, status=pb.ORDER_STATUS_PENDING_REVIEW, error_code="E1")
    return order_records_pb2.OrderRecord(order=order, modified_ms=modified_ms)


def test_status_and_activation_updates_with_a_version_are_applicable() -> None:
    change = applicable(event(), IGNORED_ORDER_FIELDS)
    assert change is not None and change.modified_ms == 2000
    fields = {"LastModifiedDate": 3, "Activation_Status__c": "Activated", "WHMCS_Order_ID__c": "9"}
    assert applicable(event(fields=fields), IGNORED_ORDER_FIELDS) is not None


@pytest.mark.parametrize(
    "built",
    [
        event("CREATE"),
        event("DELETE"),
        event("GAP_UPDATE"),
        event(entity="OrderItem"),
        event(fields={"Status": "Approved"}),  # no version
        event(fields={"LastModifiedDate": True, "Status": "Approved"}),
        event(fields={"LastModifiedDate": 5, "Status": "Approved", "BillingCity": "Osaka"}),
        event(fields={"LastModifiedDate": 5, "WHMCS_Order_ID__c": "1"}),  # nothing shown
        event(fields={"LastModifiedDate": 5, "Activation_Error_Message__c": "x"},
              diff=("Activation_Error_Message__c",)),
    ],
)  # fmt: skip
def test_anything_else_is_not(built: ChangeEvent) -> None:
    assert applicable(built, IGNORED_ORDER_FIELDS) is None


def test_a_newer_event_is_written_and_takes_its_version() -> None:
    fields = {"LastModifiedDate": 2000, "Status": "Approved"}
    change = applicable(event(fields=fields, nulled=("Activation_Error_Code__c",)),
                        IGNORED_ORDER_FIELDS)  # fmt: skip
    assert change is not None
    patch = OrderPatch([change])
    page = order_records_pb2.OrdersPageRecord(orders=[record(1000), record(1000, "801B")])
    edited = patch.page(page)
    assert edited is not None
    assert edited.orders[0].order.status == pb.ORDER_STATUS_APPROVED
    assert edited.orders[0].order.error_code == "" and edited.orders[0].modified_ms == 2000
    assert edited.orders[1].order.status == pb.ORDER_STATUS_PENDING_REVIEW  # another order
    assert not patch.missing()


def test_an_older_event_leaves_the_copy_and_the_same_version_is_unpatchable() -> None:
    change = applicable(event(), IGNORED_ORDER_FIELDS)
    assert change is not None
    assert OrderPatch([change]).detail(record(3000)) is None  # kept as it is
    with pytest.raises(Unpatchable):
        OrderPatch([change]).detail(record(2000))
    with pytest.raises(Unpatchable):
        OrderPatch([change]).detail(record(0))  # a copy without a version


def test_an_order_on_no_cached_page_is_missing() -> None:
    change = applicable(event(), IGNORED_ORDER_FIELDS)
    assert change is not None
    patch = OrderPatch([change])
    assert patch.page(order_records_pb2.OrdersPageRecord(orders=[record(1, "801B")])) is None
    assert patch.missing()
