"""WHMCS → API mapping: pure functions over WHMCS's loosely typed dicts
(``docs/contracts/whmcs.md``).

WHMCS sends money as strings (sometimes numbers), ids and counters as strings or ints, empty dates
as ``0000-00-00``/``0000-00-00 00:00:00``, empty lists as ``""`` and omits keys freely. Every
function here accepts all of that and never raises on a malformed value: an unreadable date is
unset, unreadable money is ``"0.00"``, an unknown status is ``*_UNSPECIFIED``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from portal.billing.v1 import billing_pb2 as pb
from portal.common.v1 import types_pb2

from services.common.money import decimal_string

Row = Mapping[str, Any]

INVOICE_STATUS: dict[str, pb.InvoiceStatus] = {
    "unpaid": pb.INVOICE_STATUS_UNPAID,
    "paid": pb.INVOICE_STATUS_PAID,
    "overdue": pb.INVOICE_STATUS_OVERDUE,
    "cancelled": pb.INVOICE_STATUS_CANCELLED,
    "refunded": pb.INVOICE_STATUS_REFUNDED,
    "collections": pb.INVOICE_STATUS_COLLECTIONS,
    "draft": pb.INVOICE_STATUS_DRAFT,
    "payment pending": pb.INVOICE_STATUS_PAYMENT_PENDING,
}
# The status filter WHMCS's GetInvoices takes for each API status.
INVOICE_FILTER: dict[pb.InvoiceStatus, str] = {
    pb.INVOICE_STATUS_UNPAID: "Unpaid",
    pb.INVOICE_STATUS_PAID: "Paid",
    pb.INVOICE_STATUS_OVERDUE: "Overdue",
    pb.INVOICE_STATUS_CANCELLED: "Cancelled",
    pb.INVOICE_STATUS_REFUNDED: "Refunded",
    pb.INVOICE_STATUS_COLLECTIONS: "Collections",
    pb.INVOICE_STATUS_DRAFT: "Draft",
    pb.INVOICE_STATUS_PAYMENT_PENDING: "Payment Pending",
}
SUBSCRIPTION_STATUS: dict[str, pb.SubscriptionStatus] = {
    "pending": pb.SUBSCRIPTION_STATUS_PENDING,
    "active": pb.SUBSCRIPTION_STATUS_ACTIVE,
    "suspended": pb.SUBSCRIPTION_STATUS_SUSPENDED,
    "terminated": pb.SUBSCRIPTION_STATUS_TERMINATED,
    "cancelled": pb.SUBSCRIPTION_STATUS_CANCELLED,
    "fraud": pb.SUBSCRIPTION_STATUS_FRAUD,
    "completed": pb.SUBSCRIPTION_STATUS_COMPLETED,
}
BILLING_CYCLE: dict[str, types_pb2.BillingCycle] = {
    "one time": types_pb2.BILLING_CYCLE_ONE_TIME,
    "onetime": types_pb2.BILLING_CYCLE_ONE_TIME,
    "monthly": types_pb2.BILLING_CYCLE_MONTHLY,
    "quarterly": types_pb2.BILLING_CYCLE_QUARTERLY,
    "semi-annually": types_pb2.BILLING_CYCLE_SEMI_ANNUALLY,
    "semiannually": types_pb2.BILLING_CYCLE_SEMI_ANNUALLY,
    "annually": types_pb2.BILLING_CYCLE_ANNUALLY,
    "biennially": types_pb2.BILLING_CYCLE_BIENNIALLY,
    "triennially": types_pb2.BILLING_CYCLE_TRIENNIALLY,
    "free account": types_pb2.BILLING_CYCLE_FREE,
    "free": types_pb2.BILLING_CYCLE_FREE,
}
PAY_METHOD_TYPE: dict[str, pb.PaymentMethodType] = {
    "creditcard": pb.PAYMENT_METHOD_TYPE_CARD,
    "bankaccount": pb.PAYMENT_METHOD_TYPE_BANK_ACCOUNT,
    "remotecreditcard": pb.PAYMENT_METHOD_TYPE_REMOTE_CARD,
    "remotebankaccount": pb.PAYMENT_METHOD_TYPE_REMOTE_BANK_ACCOUNT,
}
CARD_TYPES = frozenset({pb.PAYMENT_METHOD_TYPE_CARD, pb.PAYMENT_METHOD_TYPE_REMOTE_CARD})
CENT = Decimal("0.01")
_EXPIRY = re.compile(r"^\s*(0[1-9]|1[0-2])\s*/?\s*(\d{2}|\d{4})\s*$")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


# -- scalars -------------------------------------------------------------------------------------
def text(row: Row, key: str) -> str:
    """A field as text: ``None``/missing → ``""``, numbers → their decimal form."""
    value = row.get(key)
    if value is None or isinstance(value, dict | list | bool):
        return ""
    return str(value).strip()


def money(value: Any) -> str:
    """``"15.9"``/``15.9``/``15`` → ``"15.90"``; empty or unreadable → ``"0.00"``."""
    return decimal_string(value)


def day(value: Any) -> str:
    """``YYYY-MM-DD[ hh:mm:ss]`` → ``YYYY-MM-DD``; zero or malformed dates → ``""`` (unset)."""
    parsed = _date(value)
    return parsed.isoformat() if parsed is not None else ""


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def instant(value: Any) -> Timestamp | None:
    """``YYYY-MM-DD hh:mm:ss`` (WHMCS server time, taken as UTC) → Timestamp; zero → ``None``."""
    if not isinstance(value, str):
        return None
    raw = value.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(raw, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        stamp = Timestamp()
        stamp.FromDatetime(moment)
        return stamp
    return None


def currency(row: Row, default: str) -> str:
    code = text(row, "currencycode") or text(row, "currency_code")
    return code.upper() if _CURRENCY.match(code) else default


def numeric_id(value: Any) -> int | None:
    """A positive decimal id from a string or int; anything else (``"12a"``, ``"-1"``) → None."""
    if isinstance(value, bool):
        return None
    raw = str(value).strip() if isinstance(value, int | str) else ""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    number = int(raw)
    return number if number > 0 else None


# -- invoices ------------------------------------------------------------------------------------
def whmcs_status(row: Row) -> pb.InvoiceStatus:
    """The invoice's status as WHMCS keeps it (overdue invoices stay ``Unpaid`` there)."""
    return INVOICE_STATUS.get(text(row, "status").lower(), pb.INVOICE_STATUS_UNSPECIFIED)


def invoice_status(row: Row, today: date) -> pb.InvoiceStatus:
    """WHMCS keeps overdue invoices as ``Unpaid``; past their due date we report OVERDUE."""
    return status_as_of(whmcs_status(row), day(row.get("duedate")), today)


def status_as_of(status: pb.InvoiceStatus, due_on: str, today: date) -> pb.InvoiceStatus:
    """``status`` as reported on ``today``: UNPAID past its due date (``YYYY-MM-DD``) is OVERDUE."""
    if status != pb.INVOICE_STATUS_UNPAID:
        return status  # served from the cache on every read: no date parsed for the others
    due = _date(due_on)
    return pb.INVOICE_STATUS_OVERDUE if due is not None and due < today else status


def as_of(message: pb.Invoice, today: date) -> pb.Invoice:
    """A cached invoice (WHMCS's own status, ``invoice(today=None)``) as reported on ``today``;
    in place, and idempotent."""
    status = status_as_of(message.status, message.due_on, today)
    if status != message.status:
        message.status = status
    return message


def invoice(row: Row, *, today: date | None, default_currency: str) -> pb.Invoice:
    """One invoice from a GetInvoices row or a (flat) GetInvoice body, items if present.

    ``today``: the day OVERDUE is derived for; None keeps WHMCS's status (what the cache stores:
    OVERDUE depends on the day it is read, ``as_of``)."""
    message = pb.Invoice(
        id=text(row, "invoiceid") or text(row, "id"),
        number=text(row, "invoicenum") or text(row, "invoiceid") or text(row, "id"),
        status=whmcs_status(row) if today is None else invoice_status(row, today),
        issued_on=day(row.get("date")),
        due_on=day(row.get("duedate")),
        currency_code=currency(row, default_currency),
        subtotal=money(row.get("subtotal")),
        tax=money(_sum(row.get("tax"), row.get("tax2"))),
        total=money(row.get("total")),
        balance=money(row["balance"] if "balance" in row else _balance(row)),
        items=[invoice_item(item) for item in _rows(row.get("items"))],
    )
    paid_at = instant(row.get("datepaid"))
    if paid_at is not None:
        message.paid_at.CopyFrom(paid_at)
    return message


def _balance(row: Row) -> str:
    """GetInvoices rows carry no balance: a paid invoice owes nothing, others their total."""
    paid = text(row, "status").lower() in {"paid", "cancelled", "refunded"}
    return "0.00" if paid else money(row.get("total"))


def _sum(*values: Any) -> str:
    return str(sum((Decimal(money(v)) for v in values), Decimal(0)))


def invoice_item(row: Row) -> pb.InvoiceItem:
    return pb.InvoiceItem(
        description=text(row, "description"),
        amount=money(row.get("amount")),
        type=text(row, "type"),
    )


def _rows(value: Any) -> list[Row]:
    """A list that may arrive wrapped (``{"item": [...]}``), bare, as one object, or ``""``."""
    if isinstance(value, list):
        return [v for v in value if isinstance(v, Mapping)]
    if isinstance(value, Mapping):
        inner = next(iter(value.values()), None) if len(value) == 1 else None
        if isinstance(inner, list | Mapping) and not _looks_like_row(value):
            return _rows(inner)
        return [value]
    return []


def _looks_like_row(value: Mapping[str, Any]) -> bool:
    return any(key in value for key in ("id", "description", "amount", "type"))


# -- subscriptions -------------------------------------------------------------------------------
def billing_cycle(value: Any) -> types_pb2.BillingCycle:
    key = str(value).strip().lower() if isinstance(value, str) else ""
    return BILLING_CYCLE.get(key, types_pb2.BILLING_CYCLE_UNSPECIFIED)


def subscription(row: Row, *, default_currency: str) -> pb.Subscription:
    """One GetClientsProducts row (a WHMCS service)."""
    status = SUBSCRIPTION_STATUS.get(
        text(row, "status").lower(), pb.SUBSCRIPTION_STATUS_UNSPECIFIED
    )
    return pb.Subscription(
        id=text(row, "id"),
        product_name=text(row, "name") or text(row, "translated_name"),
        group_name=text(row, "groupname") or text(row, "translated_groupname"),
        status=status,
        billing_cycle=billing_cycle(row.get("billingcycle")),
        recurring_amount=money(row.get("recurringamount")),
        currency_code=currency(row, default_currency),
        registered_on=day(row.get("regdate")),
        next_due_on=day(row.get("nextduedate")),
    )


# -- pay methods and gateways --------------------------------------------------------------------
def pay_method_type(value: Any) -> pb.PaymentMethodType:
    key = value.strip().lower() if isinstance(value, str) else ""
    return PAY_METHOD_TYPE.get(key, pb.PAYMENT_METHOD_TYPE_UNSPECIFIED)


def card_expiry(value: Any) -> str:
    """``MM/YY``, ``MMYY`` or ``MM/YYYY`` → ``MM/YY``; anything else → ``""``."""
    match = _EXPIRY.match(value) if isinstance(value, str) else None
    return f"{match.group(1)}/{match.group(2)[-2:]}" if match else ""


def payment_method(row: Row) -> pb.PaymentMethod:
    kind = pay_method_type(row.get("type"))
    card = kind in CARD_TYPES
    last_four = re.sub(r"\D", "", text(row, "card_last_four"))[-4:] if card else ""
    return pb.PaymentMethod(
        id=text(row, "id"),
        type=kind,
        description=text(row, "description"),
        card_brand=text(row, "card_type") if card else "",
        last_four=last_four,
        expiry=card_expiry(row.get("expiry_date")) if card else "",
        bank_name="" if card else text(row, "bank_name"),
        gateway_name=text(row, "gateway_name"),
    )


def gateway(row: Row) -> pb.PaymentGateway:
    return pb.PaymentGateway(name=text(row, "module"), display_name=text(row, "displayname"))


# -- profile -------------------------------------------------------------------------------------
HOOK_PROFILE_FIELDS = (
    "firstname", "lastname", "companyname", "email", "phonenumber", "address1", "address2",
    "city", "state", "postcode", "country",
)  # fmt: skip
"""The ClientEdit hook's variables (``hooks-reference/client.md``) that ``profile`` reads."""


def hook_profile(data: Row) -> pb.BillingProfile | None:
    """The profile a ClientEdit hook reports (its variables are the client's fields after the
    edit), read as ``profile`` reads GetClientsDetails; None when a field it reads is missing."""
    if any(name not in data for name in HOOK_PROFILE_FIELDS):
        return None
    return profile(data)


def profile(client: Row) -> pb.BillingProfile:
    """The ``client`` dict of GetClientsDetails."""
    return pb.BillingProfile(
        first_name=text(client, "firstname"),
        last_name=text(client, "lastname"),
        company_name=text(client, "companyname"),
        email=text(client, "email"),
        phone=text(client, "phonenumber"),
        address=types_pb2.Address(
            line1=text(client, "address1"),
            line2=text(client, "address2"),
            city=text(client, "city"),
            state=text(client, "state") or text(client, "fullstate"),
            postcode=text(client, "postcode"),
            country=(text(client, "countrycode") or text(client, "country")).upper(),
        ),
    )
