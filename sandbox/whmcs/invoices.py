"""Invoice actions: GetInvoices, GetInvoice, CreateInvoice, UpdateInvoice, AddInvoicePayment."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.whmcs.context import Ctx, Handler
from sandbox.whmcs.models import Invoice, InvoiceItem, Transaction
from sandbox.whmcs.orders import advance_paid_services
from sandbox.whmcs.phpform import Params
from sandbox.whmcs.stats import CURRENCY_PREFIX, CURRENCY_SUFFIX
from sandbox.whmcs.wire import (
    CENT,
    ApiError,
    money,
    parse_money,
    parse_ymd,
    success,
    wrap,
    ymd,
    ymd_hms,
)

INVOICE_STATUSES = frozenset(
    {"Paid", "Unpaid", "Cancelled", "Refunded", "Collections", "Draft", "Payment Pending"}
)
_SORT: dict[str, Callable[[Invoice], Any]] = {
    "id": lambda i: i.id,
    "invoicenumber": lambda i: (i.invoicenum, i.id),
    "date": lambda i: (i.date, i.id),
    "duedate": lambda i: (i.duedate, i.id),
    "total": lambda i: (i.total, i.id),
    "status": lambda i: (i.status, i.id),
}


def _list_row(ctx: Ctx, inv: Invoice) -> dict[str, Any]:
    client = ctx.store.clients.get(inv.userid)
    return {
        "id": inv.id, "userid": inv.userid,
        "firstname": client.firstname if client else "",
        "lastname": client.lastname if client else "",
        "companyname": client.companyname if client else "",
        "invoicenum": inv.invoicenum, "date": ymd(inv.date), "duedate": ymd(inv.duedate),
        "datepaid": ymd_hms(inv.datepaid), "last_capture_attempt": ymd_hms(None),
        "subtotal": money(inv.subtotal), "credit": money(inv.credit), "tax": money(inv.tax),
        "tax2": money(inv.tax2), "total": money(inv.total), "taxrate": f"{inv.taxrate:.3f}",
        "taxrate2": f"{inv.taxrate2:.3f}", "status": inv.status,
        "paymentmethod": inv.paymentmethod, "notes": inv.notes,
        "created_at": ymd_hms(inv.created_at), "updated_at": ymd_hms(inv.updated_at),
        "currencycode": "JPY", "currencyprefix": CURRENCY_PREFIX,
        "currencysuffix": CURRENCY_SUFFIX,
    }  # fmt: skip


def _row_fields(inv: Invoice) -> tuple[Any, ...]:
    """The invoice's own fields as its GetInvoices row shows them (lines and balance are on no
    row); ``updated_at`` moves when one of these changes."""
    return (
        inv.invoicenum, inv.date, inv.duedate, inv.datepaid, inv.subtotal, inv.credit, inv.tax,
        inv.tax2, inv.total, inv.taxrate, inv.taxrate2, inv.status, inv.paymentmethod, inv.notes,
    )  # fmt: skip


def get_invoices(ctx: Ctx, p: Params) -> dict[str, Any]:
    rows = list(ctx.store.invoices.values())
    if p.text("userid"):
        userid = p.int("userid")
        rows = [i for i in rows if i.userid == userid]
    status = p.text("status")
    if status == "Overdue":
        today = ctx.today()
        rows = [i for i in rows if i.overdue(today)]
    elif status:
        rows = [i for i in rows if i.status == status]
    key = _SORT.get(p.text("orderby").lower(), _SORT["duedate"])
    rows.sort(key=key, reverse=p.text("order").lower() != "asc")
    start, limit = p.window()
    page = rows[start : start + limit]
    return success(
        totalresults=len(rows),
        startnumber=start,
        numreturned=len(page),
        invoices=wrap("invoices", "invoice", [_list_row(ctx, i) for i in page]),
    )


def _get(ctx: Ctx, p: Params) -> Invoice:
    invoice = ctx.store.invoices.get(p.int("invoiceid"))
    if invoice is None:
        raise ApiError("Invoice ID Not Found")
    return invoice


def _transaction_row(t: Transaction) -> dict[str, Any]:
    return {
        "id": str(t.id), "userid": str(t.userid), "currency": "0", "gateway": t.gateway,
        "date": ymd_hms(t.date), "description": "Invoice Payment", "amountin": money(t.amountin),
        "fees": money(t.fees), "amountout": "0.00", "rate": "1.00000", "transid": t.transid,
        "invoiceid": str(t.invoiceid), "refundid": "0",
    }  # fmt: skip


def get_invoice(ctx: Ctx, p: Params) -> dict[str, Any]:
    inv = _get(ctx, p)
    items = [
        {"id": i.id, "type": i.type, "relid": i.relid, "description": i.description,
         "amount": money(i.amount), "taxed": 1 if i.taxed else 0}
        for i in inv.items
    ]  # fmt: skip
    row = _list_row(ctx, inv)
    for name in ("id", "firstname", "lastname", "companyname", "last_capture_attempt"):
        row.pop(name)
    for name in ("created_at", "updated_at"):  # getinvoice.md's example has neither
        row.pop(name)
    return success(
        invoiceid=inv.id,
        **row,
        lastcaptureattempt=ymd_hms(None),
        balance=money(inv.balance),
        ccgateway=False,
        items=wrap("items", "item", items),
        transactions=wrap(
            "transactions",
            "transaction",
            [_transaction_row(t) for t in inv.transactions],
            empty_as_string=True,
        ),
    )


def _items_from(ctx: Ctx, p: Params) -> list[InvoiceItem]:
    numbers = sorted(
        int(k[len("itemdescription") :])
        for k in p.flat
        if k.startswith("itemdescription") and k[len("itemdescription") :].isdigit()
    )
    return [
        InvoiceItem(
            id=ctx.store.next_id("item"),
            type="Item",
            relid=0,
            description=p.text(f"itemdescription{n}"),
            amount=parse_money(p.get(f"itemamount{n}")),
            taxed=p.flag(f"itemtaxed{n}"),
        )
        for n in numbers
    ]


def create_invoice(ctx: Ctx, p: Params) -> dict[str, Any]:
    if p.int("userid") not in ctx.store.clients:
        raise ApiError("Client ID Not Found")
    draft = p.flag("draft")
    status = "Draft" if draft else (p.text("status") or "Unpaid")
    if status not in INVOICE_STATUSES:
        raise ApiError("Invalid Invoice Status")
    today = ctx.today()
    inv = Invoice(
        id=ctx.store.next_id("invoice"),
        userid=p.int("userid"),
        date=parse_ymd(p.get("date")) or today,
        duedate=parse_ymd(p.get("duedate")) or today,
        status=status,
        paymentmethod=p.text("paymentmethod") or "mailin",
        taxrate=parse_money(p.get("taxrate")),
        taxrate2=parse_money(p.get("taxrate2")),
        notes=p.text("notes"),
        items=_items_from(ctx, p),
        created_at=ctx.now(),
    )
    ctx.store.invoices[inv.id] = inv
    if not draft:
        data = {"source": "api", "user": "system", "invoiceid": str(inv.id), "status": status}
        ctx.hooks.emit("InvoiceCreated", inv.userid, data)
    return success(invoiceid=str(inv.id), status=status)


STATUS_EVENTS = {"Paid": "InvoicePaid", "Unpaid": "InvoiceUnpaid", "Cancelled": "InvoiceCancelled"}


def set_status(ctx: Ctx, inv: Invoice, status: str) -> None:
    if status == inv.status:
        return
    inv.status = status
    inv.updated_at = ctx.now()
    inv.datepaid = ctx.now() if status == "Paid" else None
    if status == "Paid":
        advance_paid_services(ctx, inv)
    event = STATUS_EVENTS.get(status)
    if event is not None:
        ctx.hooks.emit(event, inv.userid, {"invoiceid": str(inv.id)})


_NUMBERED_LINE = re.compile(r"^(itemdescription|itemamount|itemtaxed)(\d+)$")
_REMOVED = frozenset({"subtotal", "tax", "tax2", "total"})
_BOOLS = {"1": True, "true": True, "0": False, "false": False}
_YMD = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class _LineEdit:
    description: str
    amount: Decimal
    taxed: bool


def _array(p: Params, name: str) -> dict[str, str]:
    """``name[key]=value`` pairs; a scalar ``name=value`` is refused (the page types these
    parameters as arrays)."""
    if name in p.flat:
        raise ApiError(f"{name} must be an array: {name}[<key>]=<value>")
    return p.mapping(name)


def _number(name: str, raw: str) -> Decimal:
    """``raw`` as a finite decimal (an empty or malformed value, NaN or infinity is refused)."""
    try:
        value = Decimal(raw)
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite():
        raise ApiError(f"Invalid value for {name}: {raw}")
    return value


def _amount(name: str, raw: str) -> Decimal:
    return _number(name, raw).quantize(CENT, rounding=ROUND_HALF_UP)


def _bool(name: str, raw: str) -> bool:
    value = _BOOLS.get(raw.strip().lower())
    if value is None:
        raise ApiError(f"Invalid value for {name}: {raw}")
    return value


def _rate(p: Params, name: str) -> Decimal | None:
    """A tax rate in percent, kept to three places as the row shows it; not negative."""
    if not p.has(name):
        return None
    rate = _number(name, p.text(name))
    if rate < 0:
        raise ApiError(f"Invalid value for {name}: {p.text(name)}")
    return rate.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def _date(p: Params, name: str) -> dt.date | None:
    if not p.has(name):
        return None
    raw = p.text(name)
    try:
        if not _YMD.match(raw):
            raise ValueError(raw)
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ApiError(f"Invalid date for {name}: {raw}. Format: YYYY-mm-dd") from None


def _line_id(inv: Invoice, name: str, key: str) -> int:
    if not key.isdigit() or int(key) not in {item.id for item in inv.items}:
        raise ApiError(f"Line item ID {key} in {name} is not on invoice {inv.id}")
    return int(key)


def _line_edits(inv: Invoice, p: Params) -> dict[int, _LineEdit]:
    """``itemdescription[<line id>]``, ``itemamount[...]``, ``itemtaxed[...]``: all three for each
    line changed."""
    return _lines(
        p, "item", "item being changed", lambda key: _line_id(inv, "itemdescription", key)
    )


def _new_lines(p: Params) -> list[_LineEdit]:
    """``newitemdescription[i]``, ``newitemamount[i]``, ``newitemtaxed[i]``, numerically indexed;
    all three for each new line."""

    def index(key: str) -> int:
        if not key.isdigit():
            raise ApiError("newitemdescription, newitemamount and newitemtaxed must be numerically"
                           " indexed")  # fmt: skip
        return int(key)

    lines = _lines(p, "newitem", "new item", index)
    return [lines[key] for key in sorted(lines)]


def _lines(p: Params, prefix: str, each: str, key_of: Callable[[str], int]) -> dict[int, _LineEdit]:
    """The lines of ``<prefix>description[k]``, ``<prefix>amount[k]``, ``<prefix>taxed[k]`` by
    ``key_of(k)``: all three for each (updateinvoice.md's "Missing Variables" error); every ``k``
    goes through ``key_of`` (which refuses a bad one) before any value is read."""
    names = (f"{prefix}description", f"{prefix}amount", f"{prefix}taxed")
    descriptions, amounts, taxed = (_array(p, name) for name in names)
    keys = set(descriptions) | set(amounts) | set(taxed)
    if any(key not in d for key in keys for d in (descriptions, amounts, taxed)):
        raise ApiError(
            f"Missing Variables: {names[0]}, {names[1]} and {names[2]} are required for each {each}"
        )
    keyed = {key: key_of(key) for key in sorted(keys)}
    return {
        keyed[key]: _LineEdit(
            descriptions[key].strip(),
            _amount(f"{names[1]}[{key}]", amounts[key]),
            _bool(f"{names[2]}[{key}]", taxed[key]),
        )
        for key in sorted(keys)
    }


def _deleted_lines(inv: Invoice, p: Params) -> set[int]:
    return {_line_id(inv, "deletelineids", key) for key in _array(p, "deletelineids").values()}


def update_invoice(ctx: Ctx, p: Params) -> dict[str, Any]:
    """updateinvoice.md. Every parameter is checked before anything changes: a refused call
    leaves the invoice as it was. Lines, tax rates and credit feed the totals, which are always
    computed from them (``Invoice.subtotal`` ... ``balance``). No hook runs for lines, dates,
    tax, credit, notes or the gateway; a status change runs its status hook (``set_status``);
    publishing a draft runs ``InvoiceCreated``."""
    inv = _get(ctx, p)
    numbered = sorted(k for k in p.flat if _NUMBERED_LINE.match(k))
    if numbered:
        raise ApiError(  # docs silent: CreateInvoice's numbered form, unknown to UpdateInvoice
            f"{numbered[0]} is not an UpdateInvoice parameter: lines are changed with"
            " itemdescription[<line id>], itemamount[<line id>], itemtaxed[<line id>]"
        )
    removed = sorted(_REMOVED & p.keys())
    if removed:
        raise ApiError(  # updateinvoice.md, version 7.8; the refusal itself is the sandbox's
            f"{removed[0]} is not an UpdateInvoice parameter since WHMCS 7.8: adjust invoice items"
            " and tax rates to adjust it"
        )
    status = p.text("status") if p.has("status") else None
    if status is not None and status not in INVOICE_STATUSES:
        raise ApiError(f"Invalid status {status}")  # updateinvoice.md
    publish = p.flag("publish") or p.flag("publishandsendemail")
    if publish and inv.status != "Draft":
        raise ApiError("Invoice must be in Draft status to be published")  # updateinvoice.md
    gateway = p.text("paymentmethod") if p.has("paymentmethod") else None
    if gateway is not None and gateway not in ctx.store.gateways:
        raise ApiError(  # docs silent: AddOrder's wording for an unknown gateway
            "Invalid Payment Method. Valid options include " + ",".join(ctx.store.gateways)
        )
    edits = _line_edits(inv, p)
    added = _new_lines(p)
    deleted = _deleted_lines(inv, p)
    both = sorted(set(edits) & deleted)
    if both:
        raise ApiError(f"Line item ID {both[0]} is both changed and deleted")
    taxrate, taxrate2 = _rate(p, "taxrate"), _rate(p, "taxrate2")
    credit = _amount("credit", p.text("credit")) if p.has("credit") else None
    if credit is not None and credit < 0:
        raise ApiError(f"Invalid value for credit: {p.text('credit')}")
    issued, due, paid_on = _date(p, "date"), _date(p, "duedate"), _date(p, "datepaid")

    after = replace(inv, items=[replace(item) for item in inv.items if item.id not in deleted])
    for item in after.items:
        if item.id in edits:
            edit = edits[item.id]
            item.description, item.amount, item.taxed = edit.description, edit.amount, edit.taxed
    after.items += [InvoiceItem(0, "Item", 0, n.description, n.amount, n.taxed) for n in added]
    after.taxrate = inv.taxrate if taxrate is None else taxrate
    after.taxrate2 = inv.taxrate2 if taxrate2 is None else taxrate2
    after.credit = inv.credit if credit is None else credit
    gross = after.subtotal + after.tax + after.tax2
    if after.credit > max(gross, Decimal(0)):
        raise ApiError(  # docs silent: no credit beyond what the invoice charges
            f"Credit {money(after.credit)} exceeds the invoice total {money(gross)}"
        )

    row = _row_fields(inv)
    for item in after.items:
        if item.id == 0:
            item.id = ctx.store.next_id("item")
    inv.items = after.items
    inv.taxrate, inv.taxrate2, inv.credit = after.taxrate, after.taxrate2, after.credit
    if issued is not None:
        inv.date = issued
    if due is not None:
        inv.duedate = due
    if p.has("notes"):
        inv.notes = p.text("notes")
    if gateway is not None:
        inv.paymentmethod = gateway
    if publish:
        inv.status = "Unpaid"
    if status is not None:
        set_status(ctx, inv, status)
    if paid_on is not None:
        inv.datepaid = dt.datetime.combine(paid_on, dt.time())
    if _row_fields(inv) != row:
        inv.updated_at = ctx.now()
    if publish:
        data = {"source": "api", "user": "system", "invoiceid": str(inv.id), "status": inv.status}
        ctx.hooks.emit("InvoiceCreated", inv.userid, data)
    return success(invoiceid=str(inv.id))


def add_invoice_payment(ctx: Ctx, p: Params) -> dict[str, Any]:
    inv = _get(ctx, p)
    if inv.status == "Cancelled":
        raise ApiError("It is not possible to add a payment to an invoice that is Cancelled")
    paid_at = datetime.combine(parse_ymd(p.get("date")) or ctx.today(), ctx.now().time())
    amount = parse_money(p.get("amount"), default=inv.balance)
    tx = Transaction(
        id=ctx.store.next_id("transaction"),
        userid=inv.userid,
        gateway=p.text("gateway"),
        date=paid_at,
        transid=p.text("transid"),
        amountin=amount,
        fees=parse_money(p.get("fees")),
        invoiceid=inv.id,
    )
    inv.transactions.append(tx)
    ctx.hooks.emit("AddInvoicePayment", inv.userid, {"invoiceid": str(inv.id)})
    if inv.balance <= Decimal(0) and inv.status != "Paid":
        set_status(ctx, inv, "Paid")
        inv.datepaid = paid_at
    return success()


ACTIONS: dict[str, Handler] = {
    "GetInvoices": get_invoices,
    "GetInvoice": get_invoice,
    "CreateInvoice": create_invoice,
    "UpdateInvoice": update_invoice,
    "AddInvoicePayment": add_invoice_payment,
}
