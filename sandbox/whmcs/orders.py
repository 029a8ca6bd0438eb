"""Order actions: AddOrder, AcceptOrder, GetOrders (and renewal of services on payment)."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sandbox.whmcs.context import Ctx, Handler
from sandbox.whmcs.cycles import CYCLES, MONTHS_BY_NAME, add_months
from sandbox.whmcs.models import Invoice, InvoiceItem, Order, Product, Service
from sandbox.whmcs.phpform import Params, php_b64_decode
from sandbox.whmcs.seed import TAX_RATE
from sandbox.whmcs.wire import ApiError, money, success, wrap, ymd_hms

ORDER_STATUSES = frozenset({"Pending", "Active", "Fraud", "Cancelled"})


def _cycle(product: Product, raw: str) -> tuple[str, int]:
    if product.paytype == "onetime":
        return CYCLES["onetime"]
    key = raw.strip().lower().replace("-", "") or "monthly"
    if key not in CYCLES:
        raise ApiError("Invalid Billing Cycle")
    return CYCLES[key]


def _new_service(
    ctx: Ctx, order: Order, product: Product, cycle: str, i: int, p: Params
) -> Service:
    display, months = _cycle(product, cycle)
    price = product.monthly * max(months, 1)
    customfields = p.list("customfields")
    configoptions = p.list("configoptions")
    return Service(
        id=ctx.store.next_id("service"),
        userid=order.userid,
        orderid=order.id,
        pid=product.pid,
        regdate=ctx.today(),
        billingcycle=display,
        firstpaymentamount=price + product.setupfee,
        recurringamount=price if months else Decimal(0),
        nextduedate=ctx.today() if months else None,
        paymentmethod=order.paymentmethod,
        customfields=php_b64_decode(customfields[i] if i < len(customfields) else None) or {},
        configoptions=php_b64_decode(configoptions[i] if i < len(configoptions) else None) or {},
    )


def _item(ctx: Ctx, service: Service, product: Product) -> InvoiceItem:
    text = f"{product.groupname} - {product.name}"
    months = MONTHS_BY_NAME.get(service.billingcycle, 0)
    if months:
        end = add_months(service.regdate, months) - timedelta(days=1)
        text += f" ({service.regdate:%d/%m/%Y} - {end:%d/%m/%Y})"
    return InvoiceItem(
        ctx.store.next_id("item"), "Hosting", service.id, text, service.firstpaymentamount
    )


def add_order(ctx: Ctx, p: Params) -> dict[str, Any]:
    client_id = p.int("clientid")
    client = ctx.store.clients.get(client_id)
    if client is None:
        raise ApiError("Client ID Not Found")
    if client.status == "Closed":
        raise ApiError("Unable to add order when client status is Closed")
    gateway = p.text("paymentmethod")
    if gateway not in ctx.store.gateways:
        raise ApiError(
            "Invalid Payment Method. Valid options include " + ",".join(ctx.store.gateways)
        )
    pids, qtys, cycles = p.list("pid"), p.list("qty"), p.list("billingcycle")
    if not [pid for pid in pids if pid.strip()]:
        raise ApiError("No items added to cart so order cannot proceed")
    products = []
    for pid in pids:
        product = ctx.store.products.get(int(pid) if pid.strip().isdigit() else -1)
        if product is None:
            raise ApiError("Product ID Invalid")
        products.append(product)
    order = Order(
        id=ctx.store.next_id("order"), ordernum=str(secrets.randbelow(9 * 10**9) + 10**9),
        userid=client_id, date=ctx.now(), amount=Decimal(0), paymentmethod=gateway, invoiceid=0,
        notes=p.text("notes"),
    )  # fmt: skip
    services: list[tuple[Service, Product]] = []
    for i, product in enumerate(products):
        qty = max(int(qtys[i]) if i < len(qtys) and qtys[i].strip().isdigit() else 1, 1)
        cycle = cycles[i] if i < len(cycles) else ""
        services += [(_new_service(ctx, order, product, cycle, i, p), product) for _ in range(qty)]
    for service, _product in services:
        ctx.store.services[service.id] = service
    order.serviceids = [s.id for s, _ in services]
    order.amount = sum((s.firstpaymentamount for s, _ in services), Decimal(0))
    if not p.flag("noinvoice"):
        invoice = Invoice(
            id=ctx.store.next_id("invoice"), userid=client_id, date=ctx.today(),
            duedate=ctx.today(), paymentmethod=gateway, taxrate=TAX_RATE,
            items=[_item(ctx, s, prod) for s, prod in services], created_at=ctx.now(),
        )  # fmt: skip
        ctx.store.invoices[invoice.id] = invoice
        order.invoiceid, order.amount = invoice.id, invoice.total
        created = {"source": "api", "user": "system", "invoiceid": str(invoice.id)}
        ctx.hooks.emit("InvoiceCreated", client_id, {**created, "status": "Unpaid"})
    ctx.store.orders[order.id] = order
    return success(
        orderid=str(order.id),
        serviceids=",".join(str(s) for s in order.serviceids),
        addonids="",
        domainids="",
        invoiceid=str(order.invoiceid),
    )


def accept_order(ctx: Ctx, p: Params) -> dict[str, Any]:
    order = ctx.store.orders.get(p.int("orderid"))
    if order is None or order.status != "Pending":
        raise ApiError("Order ID not found or Status not Pending")
    order.status = "Active"
    for sid in order.serviceids:
        service = ctx.store.services[sid]
        service.status = "Active"
        if p.flag("autosetup"):
            data = {"serviceid": str(sid), "pid": str(service.pid), "userid": str(order.userid)}
            ctx.hooks.emit("AfterModuleCreate", order.userid, {"params": data})
    ctx.hooks.emit("AcceptOrder", order.userid, {"orderid": str(order.id)})
    return success()


def advance_paid_services(ctx: Ctx, invoice: Invoice) -> None:
    """Paying an invoice moves each invoiced service's next due date on by one cycle."""
    for item in invoice.items:
        service = ctx.store.services.get(item.relid) if item.type == "Hosting" else None
        months = MONTHS_BY_NAME.get(service.billingcycle, 0) if service else 0
        if service is not None and months:
            base: date = service.nextduedate or service.regdate
            service.nextduedate = add_months(base, months)


def _order_row(ctx: Ctx, o: Order) -> dict[str, Any]:
    invoice = ctx.store.invoices.get(o.invoiceid)
    client = ctx.store.clients.get(o.userid)
    lines = []
    for sid in o.serviceids:
        s = ctx.store.services[sid]
        product = ctx.store.products[s.pid]
        lines.append({
            "type": "product", "relid": s.id, "producttype": "Other",
            "product": f"{product.groupname} - {product.name}", "domain": "",
            "billingcycle": s.billingcycle, "amount": money(s.firstpaymentamount),
            "status": s.status,
        })  # fmt: skip
    return {
        "id": o.id, "ordernum": int(o.ordernum), "userid": o.userid, "contactid": 0,
        "requestor_id": client.owner_user_id if client else 0, "admin_requestor_id": 0,
        "date": ymd_hms(o.date), "amount": money(o.amount), "paymentmethod": o.paymentmethod,
        "paymentmethodname": ctx.store.gateways.get(o.paymentmethod, o.paymentmethod),
        "invoiceid": o.invoiceid, "status": o.status, "ipaddress": "", "promocode": "",
        "notes": o.notes, "paymentstatus": invoice.status if invoice else "",
        "name": f"{client.firstname} {client.lastname}" if client else "",
        "currencyprefix": "¥", "currencysuffix": "JPY",
        "lineitems": wrap("lineitems", "lineitem", lines),
    }  # fmt: skip


def get_orders(ctx: Ctx, p: Params) -> dict[str, Any]:
    rows = sorted(ctx.store.orders.values(), key=lambda o: o.id, reverse=True)
    if p.text("id"):
        rows = [o for o in rows if o.id == p.int("id")]
    if p.text("userid"):
        userid = p.int("userid")
        rows = [o for o in rows if o.userid == userid]
    if p.text("status"):
        rows = [o for o in rows if o.status == p.text("status")]
    start, limit = p.window()
    page = rows[start : start + limit]
    return success(
        totalresults=len(rows),
        startnumber=start,
        numreturned=len(page),
        orders=wrap("orders", "order", [_order_row(ctx, o) for o in page], empty_as_string=True),
    )


ACTIONS: dict[str, Handler] = {
    "AddOrder": add_order,
    "AcceptOrder": accept_order,
    "GetOrders": get_orders,
}
