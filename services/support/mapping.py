"""Salesforce ``Case``/``CaseComment`` records ↔ the support domain.

Picklists (the sandbox's and our org's values) map to the contract's enums:

- ``Status``: New / Working / Escalated / Closed. Any other status an org may add maps by
  ``IsClosed`` (closed → CLOSED, open → WORKING).
- ``Priority``: Low / Medium / High; anything else → UNSPECIFIED.
- ``Type`` ↔ category: Billing ↔ BILLING, Technical ↔ TECHNICAL, Order ↔ ORDER, SIM ↔ SIM,
  Other ↔ GENERAL. Staff-only types read as the nearest category (Internet, VPN → TECHNICAL;
  SIM Cancellation, opened by CancelSim → SIM;
  Account and anything unknown → GENERAL); no type → UNSPECIFIED.

``fromCustomer``: the sandbox (and an org where staff work through the same integration user)
cannot tell comment authors apart by ``CreatedById``, so the portal prefixes every comment it
writes with :data:`CUSTOMER_MARKER`. A comment whose body starts with it is the customer's; the
marker is stripped on the way out, so the customer sees their text verbatim and staff see who wrote
it in Salesforce.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portal.support.v1 import support_pb2 as pb

from services.support.model import Case, Comment

CUSTOMER_MARKER = "[portal] "

CASE_FIELDS = (
    "Id",
    "CaseNumber",
    "Subject",
    "Description",
    "Status",
    "IsClosed",
    "Priority",
    "Type",
    "CreatedDate",
)
COMMENT_FIELDS = ("Id", "CommentBody", "CreatedDate")

_STATUS: dict[str, int] = {
    "New": pb.CASE_STATUS_NEW,
    "Working": pb.CASE_STATUS_WORKING,
    "Escalated": pb.CASE_STATUS_ESCALATED,
    "Closed": pb.CASE_STATUS_CLOSED,
}
STATUS_VALUE: dict[int, str] = {number: name for name, number in _STATUS.items()}

_PRIORITY: dict[str, int] = {
    "Low": pb.CASE_PRIORITY_LOW,
    "Medium": pb.CASE_PRIORITY_MEDIUM,
    "High": pb.CASE_PRIORITY_HIGH,
}
PRIORITY_VALUE: dict[int, str] = {number: name for name, number in _PRIORITY.items()}

CATEGORY_VALUE: dict[int, str] = {
    pb.CASE_CATEGORY_BILLING: "Billing",
    pb.CASE_CATEGORY_TECHNICAL: "Technical",
    pb.CASE_CATEGORY_ORDER: "Order",
    pb.CASE_CATEGORY_SIM: "SIM",
    pb.CASE_CATEGORY_GENERAL: "Other",
}
_CATEGORY: dict[str, int] = {name: number for number, name in CATEGORY_VALUE.items()}
_CATEGORY.update(Internet=pb.CASE_CATEGORY_TECHNICAL, VPN=pb.CASE_CATEGORY_TECHNICAL)
_CATEGORY["SIM Cancellation"] = pb.CASE_CATEGORY_SIM  # opened by commerce's CancelSim

# Salesforce field → the request field a violation is reported on.
REQUEST_FIELD = {
    "Subject": "subject",
    "Description": "description",
    "Type": "category",
    "Priority": "priority",
    "CommentBody": "body",
}


def status_of(record: dict[str, Any]) -> int:
    known = _STATUS.get(str(record.get("Status") or ""))
    if known is not None:
        return known
    return pb.CASE_STATUS_CLOSED if record.get("IsClosed") else pb.CASE_STATUS_WORKING


def category_of(value: Any) -> int:
    if not value:
        return pb.CASE_CATEGORY_UNSPECIFIED
    return _CATEGORY.get(str(value), pb.CASE_CATEGORY_GENERAL)


def parse_datetime(value: Any) -> datetime | None:
    """A Salesforce datetime (``2024-05-01T09:30:00.000+0000``) or None."""
    if not value:
        return None
    text = str(value).replace("Z", "+0000")
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def case_from_record(record: dict[str, Any], comments: tuple[Comment, ...] = ()) -> Case:
    return Case(
        id=str(record["Id"]),
        case_number=str(record.get("CaseNumber") or ""),
        subject=str(record.get("Subject") or ""),
        description=str(record.get("Description") or ""),
        status=status_of(record),
        priority=_PRIORITY.get(str(record.get("Priority") or ""), pb.CASE_PRIORITY_UNSPECIFIED),
        category=category_of(record.get("Type")),
        created_at=parse_datetime(record.get("CreatedDate")),
        comments=comments,
    )


def comment_from_record(record: dict[str, Any]) -> Comment:
    body = str(record.get("CommentBody") or "")
    from_customer = body.startswith(CUSTOMER_MARKER)
    return Comment(
        id=str(record["Id"]),
        body=body[len(CUSTOMER_MARKER) :] if from_customer else body,
        created_at=parse_datetime(record.get("CreatedDate")),
        from_customer=from_customer,
    )


def stored_comment_body(body: str) -> str:
    """What the portal writes into ``CommentBody`` for a customer's comment."""
    return CUSTOMER_MARKER + body
