"""Catalogue and services: GetProducts, GetClientsProducts, UpdateClientProduct."""

from __future__ import annotations

from typing import Any

from sandbox.whmcs.context import Ctx, Handler
from sandbox.whmcs.models import Product, Service
from sandbox.whmcs.phpform import Params
from sandbox.whmcs.stats import CURRENCY_PREFIX, CURRENCY_SUFFIX
from sandbox.whmcs.wire import ApiError, money, parse_money, parse_ymd, success, wrap, ymd, ymd_hms

SERVICE_STATUSES = frozenset(
    {"Pending", "Active", "Suspended", "Terminated", "Cancelled", "Fraud", "Completed"}
)
_PRICE_KEYS = {"monthly": 1, "quarterly": 3, "semiannually": 6, "annually": 12}


def _pricing(product: Product) -> dict[str, Any]:
    prices: dict[str, str] = {"prefix": CURRENCY_PREFIX, "suffix": CURRENCY_SUFFIX}
    for key, months in _PRICE_KEYS.items():
        prices[key[0] + "setupfee"] = money(product.setupfee)
        if product.paytype == "onetime":
            prices[key] = money(product.monthly) if key == "monthly" else "-1.00"
        else:
            prices[key] = money(product.monthly * months)
    prices.update(biennially="-1.00", triennially="-1.00")
    return {"JPY": prices}


def _product_row(product: Product) -> dict[str, Any]:
    fields = [
        {"id": fid, "name": name, "description": "", "required": ""}
        for fid, name in product.customfields
    ]
    return {
        "pid": product.pid, "gid": product.gid, "type": "other", "name": product.name,
        "slug": product.name.lower().replace(" ", "-"), "description": "", "module": "",
        "paytype": product.paytype, "allowqty": 0, "quantity_available": 0,
        "pricing": _pricing(product), "customfields": wrap("customfields", "customfield", fields),
        "configoptions": wrap("configoptions", "configoption", []),
    }  # fmt: skip


def get_products(ctx: Ctx, p: Params) -> dict[str, Any]:
    rows = sorted(ctx.store.products.values(), key=lambda prod: prod.pid)
    if p.text("pid"):
        parts = (x.strip() for x in p.text("pid").split(","))
        wanted = {int(x) for x in parts if x.isascii() and x.isdigit()}
        rows = [prod for prod in rows if prod.pid in wanted]
    if p.text("gid"):
        rows = [prod for prod in rows if prod.gid == p.int("gid")]
    return success(
        totalresults=len(rows),
        products=wrap("products", "product", [_product_row(r) for r in rows]),
    )


def _field_name(product: Product, fid: str) -> str:
    return next((name for pid, name in product.customfields if str(pid) == fid), "")


def _service_row(ctx: Ctx, s: Service) -> dict[str, Any]:
    product = ctx.store.products[s.pid]
    fields = [
        {"id": fid, "name": _field_name(product, fid), "translated_name": _field_name(product, fid),
         "value": value}
        for fid, value in s.customfields.items()
    ]  # fmt: skip
    options = [
        {"id": oid, "option": "", "type": "text", "value": value}
        for oid, value in s.configoptions.items()
    ]
    return {
        "id": str(s.id), "clientid": str(s.userid), "orderid": str(s.orderid),
        "pid": str(s.pid), "regdate": ymd(s.regdate), "name": product.name,
        "translated_name": product.name, "groupname": product.groupname,
        "translated_groupname": product.groupname, "domain": "", "dedicatedip": "",
        "serverid": "0", "firstpaymentamount": money(s.firstpaymentamount),
        "recurringamount": money(s.recurringamount), "paymentmethod": s.paymentmethod,
        "paymentmethodname": ctx.store.gateways.get(s.paymentmethod, s.paymentmethod),
        "billingcycle": s.billingcycle, "nextduedate": ymd(s.nextduedate), "status": s.status,
        "username": "", "subscriptionid": "", "promoid": "0", "overideautosuspend": "",
        "overidesuspenduntil": "0000-00-00", "notes": "", "lastupdate": ymd_hms(None),
        "customfields": wrap("customfields", "customfield", fields),
        "configoptions": wrap("configoptions", "configoption", options),
    }  # fmt: skip


def get_clients_products(ctx: Ctx, p: Params) -> dict[str, Any]:
    rows = sorted(ctx.store.services.values(), key=lambda s: s.id)
    if p.text("clientid"):
        clientid = p.int("clientid")
        rows = [s for s in rows if s.userid == clientid]
    if p.text("serviceid"):
        rows = [s for s in rows if s.id == p.int("serviceid")]
    if p.text("pid"):
        rows = [s for s in rows if s.pid == p.int("pid")]
    start, limit = p.window()
    page = rows[start : start + limit]
    return success(
        clientid=p.get("clientid"),
        serviceid=p.get("serviceid"),
        pid=p.get("pid"),
        domain=None,
        totalresults=str(len(rows)),
        startnumber=start,
        numreturned=len(page),
        products=wrap(
            "products", "product", [_service_row(ctx, s) for s in page], empty_as_string=True
        ),
    )


def update_client_product(ctx: Ctx, p: Params) -> dict[str, Any]:
    service = ctx.store.services.get(p.int("serviceid"))
    if service is None:
        raise ApiError("Service ID Not Found")
    if p.has("status"):
        if p.text("status") not in SERVICE_STATUSES:
            raise ApiError("Invalid Status")
        service.status = p.text("status")
    if p.has("nextduedate"):
        service.nextduedate = parse_ymd(p.get("nextduedate"))
    if p.has("recurringamount"):
        service.recurringamount = parse_money(p.get("recurringamount"), service.recurringamount)
    data = {"userid": str(service.userid), "serviceid": str(service.id)}
    ctx.hooks.emit("ServiceEdit", service.userid, data)
    return success(serviceid=service.id)


ACTIONS: dict[str, Handler] = {
    "GetProducts": get_products,
    "GetClientsProducts": get_clients_products,
    "UpdateClientProduct": update_client_product,
}
