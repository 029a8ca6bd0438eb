"""What the SIM lines are read from: the Salesforce orders fulfillment wrote an MSISDN back to
(``SIM_Account__c``) with their SIM plan item, and Freebit's account detail (PA03-02).

No I/O here: the SOQL, the MSISDN shape, and the mapping of both halves to ``Sim``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from portal.commerce.v1 import orders_pb2

from services.commerce.mapping import text
from services.common.clients.soql import soql

# Japanese mobile numbers as Freebit takes them: 11 digits, 070/080/090 (and 020/060 M2M).
MSISDN = re.compile(r"^0[2-9]0[0-9]{8}$")
MAX_LINES = 200
LINE_FIELDS = "Id, SIM_Account__c, SIM_Type__c"
SIM_TYPES = {"eSIM": orders_pb2.SIM_TYPE_ESIM, "Physical": orders_pb2.SIM_TYPE_PHYSICAL}
STATUSES = {
    "requested": orders_pb2.SIM_STATUS_ACTIVATING,
    "active": orders_pb2.SIM_STATUS_ACTIVE,
    "cancelling": orders_pb2.SIM_STATUS_CANCELLATION_PENDING,
    "cancelled": orders_pb2.SIM_STATUS_CANCELLED,
}


@dataclass(frozen=True)
class LineRecord:
    """A line as Salesforce knows it: the order that provisioned it and its plan."""

    msisdn: str
    order_id: str
    sim_type: str
    plan_name: str = ""
    plan_code: str = ""


def is_msisdn(value: str) -> bool:
    return bool(MSISDN.match(value))


def lines_query(account_id: str) -> str:
    return soql(
        f"SELECT {LINE_FIELDS} FROM Order WHERE AccountId = {{}} AND SIM_Account__c != null "  # noqa: S608
        "ORDER BY CreatedDate DESC, Id DESC LIMIT {}",
        account_id,
        MAX_LINES,
    )


def line_query(account_id: str, msisdn: str) -> str:
    return soql(
        f"SELECT {LINE_FIELDS} FROM Order WHERE AccountId = {{}} AND SIM_Account__c = {{}} "  # noqa: S608
        "ORDER BY CreatedDate DESC, Id DESC LIMIT 1",
        account_id,
        msisdn,
    )


def order_lines_query(account_id: str, order_id: str) -> str:
    return soql(
        f"SELECT {LINE_FIELDS} FROM Order WHERE AccountId = {{}} AND Id = {{}} "  # noqa: S608
        "AND SIM_Account__c != null",
        account_id,
        order_id,
    )


def plans_query(order_ids: Sequence[str]) -> str:
    return soql(
        "SELECT OrderId, Product2.Name, Product2.SIM_Plan_Code__c FROM OrderItem "
        "WHERE OrderId IN {} ORDER BY OrderItemNumber ASC",
        list(order_ids),
    )


def plans_by_order(items: Sequence[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """``order id -> (plan name, plan code)``: the order's first item with a SIM plan code."""
    out: dict[str, tuple[str, str]] = {}
    for item in items:
        product = item.get("Product2") or {}
        code = text(product, "SIM_Plan_Code__c")
        if code and str(item["OrderId"]) not in out:
            out[str(item["OrderId"])] = (text(product, "Name"), code)
    return out


def line_records(
    orders: Sequence[dict[str, Any]], plans: dict[str, tuple[str, str]]
) -> list[LineRecord]:
    """One record per MSISDN (the newest order that names it), in the orders' order."""
    seen: set[str] = set()
    out: list[LineRecord] = []
    for order in orders:
        msisdn = text(order, "SIM_Account__c")
        if not msisdn or msisdn in seen:
            continue
        seen.add(msisdn)
        name, code = plans.get(str(order["Id"]), ("", ""))
        out.append(LineRecord(msisdn, str(order["Id"]), text(order, "SIM_Type__c"), name, code))
    return out


def _iso(yyyymmdd: Any) -> str:
    value = str(yyyymmdd or "")
    if not re.match(r"^\d{8}$", value):
        return ""
    return datetime.strptime(value, "%Y%m%d").date().isoformat()


def sim_from(record: LineRecord, detail: dict[str, Any]) -> orders_pb2.Sim:
    """The line: Salesforce's half (plan, order, SIM type) and Freebit's (state, dates)."""
    status = STATUSES.get(str(detail.get("state", "")), orders_pb2.SIM_STATUS_UNSPECIFIED)
    return orders_pb2.Sim(
        msisdn=record.msisdn,
        sim_type=SIM_TYPES.get(record.sim_type, orders_pb2.SIM_TYPE_UNSPECIFIED),
        plan_name=record.plan_name,
        plan_code=record.plan_code or str(detail.get("planCode") or ""),
        status=status,
        activated_on=_iso(detail.get("startDate")),
        cancellation_date=_iso(detail.get("cancelDate")),
        order_id=record.order_id,
    )
