"""Invoice actions: GetInvoices, GetInvoice, CreateInvoice, UpdateInvoice, AddInvoicePayment."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from sandbox.whmcs.context import Ctx, Handler
from sandbox.whmcs.models import Invoice, InvoiceItem, Transaction
from sandbox.whmcs.orders import advance_paid_services
from sandbox.whmcs.paymethods import TOKEN_GATEWAYS
from sandbox.whmcs.phpform import Params
from sandbox.whmcs.stats import CURRENCY_PREFIX, CURRENCY_SUFFIX
from sandbox.whmcs.wire import (
    CENT,
    ApiError,
    money,
    success,
    wrap,
    ymd,
    ymd_hms,
)

# Gateways that capture a stored card (getinvoice.md's ``ccgateway``).
CARD_GATEWAYS = TOKEN_GATEWAYS["CreditCard"]
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
    """A GetInvoices row: the fields, order and types of getinvoices.md's example."""
    client = ctx.store.clients.get(inv.userid)
    return {
        "id": inv.id, "userid": inv.userid,
        "firstname": client.firstname if client else "",
        "lastname": client.lastname if client else "",
        "companyname": client.companyname if client else "",
        "invoicenum": inv.invoicenum, "date": ymd(inv.date), "duedate": ymd(inv.duedate),
        "datepaid": ymd_hms(inv.datepaid), "last_capture_attempt": ymd_hms(None),
        "date_refunded": ymd_hms(inv.date_refunded),
        "date_cancelled": ymd_hms(inv.date_cancelled),
        "subtotal": money(inv.subtotal), "credit": money(inv.credit), "tax": money(inv.tax),
        "tax2": money(inv.tax2), "total": money(inv.total), "taxrate": f"{inv.taxrate:.3f}",
        "taxrate2": f"{inv.taxrate2:.3f}", "status": inv.status,
        "paymentmethod": inv.paymentmethod,
        "paymethodid": None,  # the sandbox ties no invoice to a stored pay method
        "notes": inv.notes,
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
        inv.date_refunded, inv.date_cancelled,
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
    """getinvoice.md's example response: its fields, in its order, with its types (no currency,
    no ``created_at``/``updated_at``, ``lastcaptureattempt`` without the row's underscore)."""
    inv = _get(ctx, p)
    items = [
        {"id": i.id, "type": i.type, "relid": i.relid, "description": i.description,
         "amount": money(i.amount), "taxed": 1 if i.taxed else 0}
        for i in inv.items
    ]  # fmt: skip
    return success(
        invoiceid=inv.id, invoicenum=inv.invoicenum, userid=inv.userid, date=ymd(inv.date),
        duedate=ymd(inv.duedate), datepaid=ymd_hms(inv.datepaid),
        lastcaptureattempt=ymd_hms(None), subtotal=money(inv.subtotal), credit=money(inv.credit),
        tax=money(inv.tax), tax2=money(inv.tax2), total=money(inv.total),
        balance=money(inv.balance), taxrate=f"{inv.taxrate:.3f}",
        taxrate2=f"{inv.taxrate2:.3f}", status=inv.status, paymentmethod=inv.paymentmethod,
        notes=inv.notes, ccgateway=inv.paymentmethod in CARD_GATEWAYS,
        items=wrap("items", "item", items),
        transactions=wrap(
            "transactions",
            "transaction",
            [_transaction_row(t) for t in inv.transactions],
            empty_as_string=True,
        ),
    )  # fmt: skip


_CREATE_LINE = re.compile(r"^item(description|amount|taxed)(.*)$")
_UPDATE_ARRAYS = ("itemdescription", "itemamount", "itemtaxed", "newitemdescription",
                  "newitemamount", "newitemtaxed", "deletelineids")  # fmt: skip


def _create_lines(p: Params) -> list[_LineEdit]:
    """``itemdescription<n>``, ``itemamount<n>``, ``itemtaxed<n>`` (createinvoice.md; ``<n>`` an
    integer), in the order of ``<n>``. A line needs a description and an amount; ``itemtaxed<n>``
    is optional (not taxed when absent)."""
    arrays = sorted(name for name in _UPDATE_ARRAYS if name in p.arrays)
    if arrays:
        raise ApiError(  # docs silent: UpdateInvoice's array form, unknown to CreateInvoice
            f"{arrays[0]}[...] is not a CreateInvoice parameter: lines are sent as"
            " itemdescription<n>, itemamount<n>, itemtaxed<n>"
        )
    numbers: set[str] = set()
    for key in sorted(p.flat):
        match = _CREATE_LINE.match(key)
        if match is None:
            continue
        if not match.group(2).isdigit():
            raise ApiError(
                f"{key} is not a CreateInvoice parameter: lines are sent as itemdescription<n>,"
                " itemamount<n>, itemtaxed<n> with <n> an integer"
            )
        numbers.add(match.group(2))
    lines = []
    for n in sorted(numbers, key=lambda n: (int(n), n)):
        if f"itemdescription{n}" not in p.flat or f"itemamount{n}" not in p.flat:
            raise ApiError(
                f"Missing Variables: itemdescription{n} and itemamount{n} are required for each"
                " invoice line"
            )
        description = p.text(f"itemdescription{n}")
        if not description:
            raise ApiError(f"Invalid value for itemdescription{n}: an empty description")
        amount = _amount(f"itemamount{n}", p.text(f"itemamount{n}"))
        taxed = _bool_param(p, f"itemtaxed{n}")
        lines.append(_LineEdit(description, amount, taxed))
    return lines


def _gateway(ctx: Ctx, p: Params, name: str = "paymentmethod") -> str | None:
    """``name`` if sent: an active gateway, else AddOrder's refusal (addorder.md)."""
    if not p.has(name):
        return None
    gateway = p.text(name)
    if gateway not in ctx.store.gateways:
        raise ApiError(  # docs silent: AddOrder's wording for an unknown gateway
            "Invalid Payment Method. Valid options include " + ",".join(ctx.store.gateways)
        )
    return gateway


def create_invoice(ctx: Ctx, p: Params) -> dict[str, Any]:
    """createinvoice.md. Every parameter is checked before anything is stored: a refused call
    creates nothing (no invoice, no line, no id used). Totals are computed from the lines and
    tax rates as for UpdateInvoice (``Invoice.subtotal`` ... ``balance``)."""
    client = ctx.store.clients.get(p.int("userid")) if p.text("userid").isdigit() else None
    if client is None:
        raise ApiError("Client ID Not Found")  # createinvoice.md
    status = p.text("status") if p.has("status") else None
    if status is not None and status not in INVOICE_STATUSES:
        raise ApiError(f"Invalid status {status}")  # docs silent: updateinvoice.md's wording
    draft = _bool_param(p, "draft")
    if draft and status not in (None, "Draft"):
        raise ApiError(f"draft creates a Draft invoice: status {status} contradicts it")
    draft = draft or status == "Draft"
    send = _bool_param(p, "sendinvoice")  # the sandbox sends no e-mail
    if draft and send:
        raise ApiError(  # createinvoice.md
            "Cannot create and send a draft invoice in a single API request. Please create and"
            " send separately."
        )
    _bool_param(p, "autoapplycredit")  # the sandbox keeps no client credit to apply
    gateway = _gateway(ctx, p)
    if gateway is None:
        default = client.defaultgateway
        gateway = default if default in ctx.store.gateways else next(iter(ctx.store.gateways))
    taxrate, taxrate2 = _rate(p, "taxrate"), _rate(p, "taxrate2")
    issued, due = _date(p, "date"), _date(p, "duedate")
    lines = _create_lines(p)

    status = "Draft" if draft else (status or "Unpaid")
    today, now = ctx.today(), ctx.now()
    inv = Invoice(
        id=ctx.store.next_id("invoice"),
        userid=client.id,
        date=issued or today,
        duedate=due or today,
        status=status,
        paymentmethod=gateway,
        taxrate=taxrate or Decimal(0),
        taxrate2=taxrate2 or Decimal(0),
        notes=p.text("notes"),
        items=[
            InvoiceItem(ctx.store.next_id("item"), "Item", 0, n.description, n.amount, n.taxed)
            for n in lines
        ],
        created_at=now,
    )
    _stamp(inv, status, now)
    ctx.store.invoices[inv.id] = inv
    if not draft:
        data = {"source": "api", "user": "system", "invoiceid": str(inv.id), "status": status}
        ctx.hooks.emit("InvoiceCreated", inv.userid, data)
    return success(invoiceid=str(inv.id), status=status)


def _stamp(inv: Invoice, status: str, now: datetime) -> None:
    """The dates that go with ``status``: ``datepaid`` for Paid, ``date_cancelled`` for
    Cancelled, ``date_refunded`` for Refunded, each set on entering its status and cleared on
    leaving it."""
    inv.datepaid = now if status == "Paid" else None
    inv.date_cancelled = now if status == "Cancelled" else None
    inv.date_refunded = now if status == "Refunded" else None


STATUS_EVENTS = {"Paid": "InvoicePaid", "Unpaid": "InvoiceUnpaid", "Cancelled": "InvoiceCancelled"}


def set_status(ctx: Ctx, inv: Invoice, status: str) -> None:
    if status == inv.status:
        return
    inv.status = status
    inv.updated_at = ctx.now()
    _stamp(inv, status, inv.updated_at)
    if status == "Paid":
        advance_paid_services(ctx, inv)
    event = STATUS_EVENTS.get(status)
    if event is not None:
        ctx.hooks.emit(event, inv.userid, {"invoiceid": str(inv.id)})


_NUMBERED_LINE = re.compile(r"^(itemdescription|itemamount|itemtaxed)(\d+)$")
_REMOVED = frozenset({"subtotal", "tax", "tax2", "total"})
_BOOLS = {"1": True, "true": True, "0": False, "false": False}
_YMD = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YMD_HMS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_T = TypeVar("_T")


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


def _bool_param(p: Params, name: str) -> bool:
    """An optional boolean parameter: absent is false, else ``1``/``0``/``true``/``false``."""
    return _bool(name, p.text(name)) if p.has(name) else False


def _rate(p: Params, name: str) -> Decimal | None:
    """A tax rate in percent, kept to three places as the row shows it; not negative."""
    if not p.has(name):
        return None
    rate = _number(name, p.text(name))
    if rate < 0:
        raise ApiError(f"Invalid value for {name}: {p.text(name)}")
    return rate.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def _when(name: str, raw: str, shape: re.Pattern[str], parse: Callable[[str], _T], form: str) -> _T:
    """``raw`` written exactly in ``shape`` and a real day (and time), else refused in ``form``."""
    try:
        if not shape.match(raw):
            raise ValueError(raw)
        return parse(raw)
    except ValueError:
        raise ApiError(f"Invalid date for {name}: {raw}. Format: {form}") from None


def _date(p: Params, name: str) -> dt.date | None:
    if not p.has(name):
        return None
    return _when(name, p.text(name), _YMD, dt.date.fromisoformat, "YYYY-mm-dd")


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
    gateway = _gateway(ctx, p)
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


def _required(p: Params, name: str) -> str:
    if not p.text(name):
        raise ApiError(f"Missing Variables: {name} is required")  # addinvoicepayment.md: Required
    return p.text(name)


def _paid_at(p: Params) -> datetime:
    raw = _required(p, "date")
    return _when("date", raw, _YMD_HMS, datetime.fromisoformat, "YYYY-mm-dd HH:ii:ss")


def add_invoice_payment(ctx: Ctx, p: Params) -> dict[str, Any]:
    """addinvoicepayment.md. Every parameter is checked before anything changes: a refused call
    records no transaction. A payment that brings the balance to 0 sets the invoice Paid with
    ``datepaid`` the payment's ``date``."""
    inv = _get(ctx, p)
    if inv.status == "Cancelled":  # addinvoicepayment.md
        raise ApiError("It is not possible to add a payment to an invoice that is Cancelled")
    if inv.status == "Draft":
        raise ApiError("It is not possible to add a payment to an invoice that is Draft")
    transid = _required(p, "transid")
    if any(t.transid == transid for i in ctx.store.invoices.values() for t in i.transactions):
        raise ApiError(f"Transaction ID {transid} is already recorded")  # "the unique ..."
    _required(p, "gateway")
    gateway = _gateway(ctx, p, "gateway") or ""
    paid_at = _paid_at(p)
    balance = inv.balance
    if p.has("amount"):
        amount = _amount("amount", p.text("amount"))
        if amount <= 0:
            raise ApiError(f"Invalid value for amount: {p.text('amount')}")
    else:
        amount = balance
    if amount <= 0:
        raise ApiError(f"Invoice {inv.id} has no balance to pay")
    if amount > balance:
        raise ApiError(f"Amount {money(amount)} exceeds the invoice balance {money(balance)}")
    fees = _amount("fees", p.text("fees")) if p.has("fees") else Decimal(0)
    if fees < 0 or fees > amount:
        raise ApiError(f"Invalid value for fees: {p.text('fees')}")
    _bool_param(p, "noemail")  # the sandbox sends no e-mail

    tx = Transaction(
        id=ctx.store.next_id("transaction"),
        userid=inv.userid,
        gateway=gateway,
        date=paid_at,
        transid=transid,
        amountin=amount,
        fees=fees,
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
