"""Invoice actions: GetInvoices, GetInvoice, CreateInvoice, UpdateInvoice, AddInvoicePayment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.whmcs.context import Ctx, Handler
from sandbox.whmcs.models import Invoice, InvoiceItem, Transaction
from sandbox.whmcs.orders import advance_paid_services
from sandbox.whmcs.phpform import Params
from sandbox.whmcs.stats import CURRENCY_PREFIX, CURRENCY_SUFFIX
from sandbox.whmcs.wire import ApiError, money, parse_money, parse_ymd, success, wrap, ymd, ymd_hms

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
        "tax2": "0.00", "total": money(inv.total), "taxrate": f"{inv.taxrate:.3f}",
        "taxrate2": "0.000", "status": inv.status, "paymentmethod": inv.paymentmethod,
        "notes": inv.notes, "currencycode": "JPY", "currencyprefix": CURRENCY_PREFIX,
        "currencysuffix": CURRENCY_SUFFIX,
    }  # fmt: skip


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
        notes=p.text("notes"),
        items=_items_from(ctx, p),
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
    inv.datepaid = ctx.now() if status == "Paid" else None
    if status == "Paid":
        advance_paid_services(ctx, inv)
    event = STATUS_EVENTS.get(status)
    if event is not None:
        ctx.hooks.emit(event, inv.userid, {"invoiceid": str(inv.id)})


def update_invoice(ctx: Ctx, p: Params) -> dict[str, Any]:
    inv = _get(ctx, p)
    if p.has("status") and p.text("status") not in INVOICE_STATUSES:
        raise ApiError(f"Invalid status {p.text('status')}")  # updateinvoice.md
    if p.has("duedate"):
        inv.duedate = parse_ymd(p.get("duedate")) or inv.duedate
    if p.has("notes"):
        inv.notes = p.text("notes")
    if p.has("paymentmethod"):
        inv.paymentmethod = p.text("paymentmethod")
    inv.items.extend(_items_from(ctx, p))
    if p.has("status"):
        set_status(ctx, inv, p.text("status"))
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
