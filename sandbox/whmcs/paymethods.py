"""Pay-method actions: GetPayMethods, GetPaymentMethods, AddPayMethod, DeletePayMethod."""

from __future__ import annotations

import re
from typing import Any

from sandbox.whmcs.context import Ctx, Handler
from sandbox.whmcs.models import PayMethod
from sandbox.whmcs.phpform import Params
from sandbox.whmcs.wire import ApiError, success, wrap

_EXPIRY = re.compile(r"^(0[1-9]|1[0-2])/?(\d{2})$")
ADDABLE_TYPES = frozenset({"CreditCard", "BankAccount", "RemoteCreditCard"})
# Which of the sandbox's gateways can hold a stored (tokenised) method of each AddPayMethod type:
# stripe tokenises cards; banktransfer and mailin are offline gateways that store nothing.
TOKEN_GATEWAYS: dict[str, frozenset[str]] = {
    "CreditCard": frozenset({"stripe"}),
    "RemoteCreditCard": frozenset({"stripe"}),
    "BankAccount": frozenset(),
}


def _row(m: PayMethod) -> dict[str, Any]:
    is_card = m.type in {"CreditCard", "RemoteCreditCard"}
    row: dict[str, Any] = {
        "id": m.id,
        "type": m.type,
        "description": m.description,
        "gateway_name": m.gateway_name,
        "contact_type": "Client",
        "contact_id": m.userid,
        "last_updated": m.last_updated.strftime("%d/%m/%Y %H:%M"),
    }
    if is_card:
        row.update(
            card_last_four=m.card_last_four,
            expiry_date=m.expiry_date,
            start_date="",
            issue_number="",
            card_type=m.card_type,
            remote_token="",
        )
    else:
        row.update(bank_name=m.bank_name, remote_token="")
    return row


def get_pay_methods(ctx: Ctx, p: Params) -> dict[str, Any]:
    if not p.text("clientid"):
        raise ApiError("Client ID Is Required")
    if p.text("type") not in {"", "CreditCard", "BankAccount"}:
        raise ApiError("Invalid Pay Method Type. Should be 'BankAccount' or 'CreditCard'")
    client_id = p.int("clientid")
    if client_id not in ctx.store.clients:
        raise ApiError("Client Not Found")
    methods = ctx.store.client_paymethods(client_id)
    if p.text("paymethodid"):
        methods = [m for m in methods if m.id == p.int("paymethodid")]
    wanted = p.text("type")
    if wanted == "CreditCard":
        methods = [m for m in methods if m.type in {"CreditCard", "RemoteCreditCard"}]
    elif wanted == "BankAccount":
        methods = [m for m in methods if m.type in {"BankAccount", "RemoteBankAccount"}]
    return success(clientid=str(client_id), paymethods=[_row(m) for m in methods])


def get_payment_methods(ctx: Ctx, _p: Params) -> dict[str, Any]:
    rows = [{"module": k, "displayname": v} for k, v in ctx.store.gateways.items()]
    return success(
        totalresults=len(rows), paymentmethods=wrap("paymentmethods", "paymentmethod", rows)
    )


def card_type(number: str) -> str:
    if number.startswith("4"):
        return "Visa"
    if number[:2] in {"34", "37"}:
        return "American Express"
    if number[:2] == "35":
        return "JCB"
    if number[:1] == "5" or number[:2] == "22":
        return "MasterCard"
    return "Unknown"


def _gateway(ctx: Ctx, p: Params, kind: str) -> str:
    """The tokenising gateway a method is stored with; ``""`` when stored locally in WHMCS."""
    name = p.text("gateway_module_name")
    if not name:
        if kind == "RemoteCreditCard":
            raise ApiError("Gateway is Required for RemoteCreditCard type")
        return ""
    if name not in ctx.store.gateways:
        raise ApiError(
            "Invalid Gateway Module Name. Must be one of: " + ", ".join(ctx.store.gateways)
        )
    if name not in TOKEN_GATEWAYS.get(kind, frozenset()):
        raise ApiError("Unsupported Gateway Type for Storage")
    return name


def _card(method: PayMethod, p: Params) -> None:
    number = re.sub(r"\D", "", p.text("card_number"))
    if not number:
        raise ApiError("Card Number is required for 'CreditCard' or 'RemoteCreditCard' type")
    if not p.text("card_expiry"):
        raise ApiError("Expiry Date is required for 'CreditCard' or 'RemoteCreditCard' type")
    expiry = _EXPIRY.match(p.text("card_expiry"))
    if expiry is None:
        raise ApiError("Expiry Date is invalid")
    method.card_last_four = number[-4:]
    method.card_type = card_type(number)
    method.expiry_date = f"{expiry.group(1)}/{expiry.group(2)}"
    if method.gateway_name:
        method.type = "RemoteCreditCard"


def _bank_account(method: PayMethod, p: Params) -> None:
    if not p.text("bank_code"):
        raise ApiError("Routing number is required")
    if not p.text("bank_account"):
        raise ApiError("Account number is required")
    method.bank_name = p.text("bank_name")
    if method.gateway_name:
        method.type = "RemoteBankAccount"


def add_pay_method(ctx: Ctx, p: Params) -> dict[str, Any]:
    if not p.text("clientid"):
        raise ApiError("Client ID Is Required")
    client_id = p.int("clientid")
    if client_id not in ctx.store.clients:
        raise ApiError("Invalid Client ID")
    kind = p.text("type") or "CreditCard"
    if kind not in ADDABLE_TYPES:
        raise ApiError(
            "Invalid Pay Method Type. Type should be one of 'BankAccount', 'CreditCard', "
            "or 'RemoteCreditCard'"
        )
    method = PayMethod(
        id=0, userid=client_id, type=kind, description=p.text("description"),
        gateway_name=_gateway(ctx, p, kind), last_updated=ctx.now(),
    )  # fmt: skip
    if kind == "BankAccount":
        _bank_account(method, p)
    else:
        _card(method, p)
    existing = ctx.store.client_paymethods(client_id)
    if p.flag("set_as_default"):
        for other in existing:
            other.order += 1
        method.order = 0
    else:
        method.order = max((m.order for m in existing), default=-1) + 1
    method.id = ctx.store.next_id("paymethod")
    ctx.store.paymethods[method.id] = method
    return success(clientid=str(client_id), paymethodid=str(method.id))


def delete_pay_method(ctx: Ctx, p: Params) -> dict[str, Any]:
    if not p.text("clientid"):
        raise ApiError("Client ID is Required")
    if not p.text("paymethodid"):
        raise ApiError("Pay Method ID is Required")
    method = ctx.store.paymethods.get(p.int("paymethodid"))
    if method is None:
        raise ApiError("Invalid Pay Method ID")
    if method.userid != p.int("clientid"):
        raise ApiError("Pay Method does not belong to passed Client ID")
    del ctx.store.paymethods[method.id]
    return success(paymethodid=str(method.id))


ACTIONS: dict[str, Handler] = {
    "GetPayMethods": get_pay_methods,
    "GetPaymentMethods": get_payment_methods,
    "AddPayMethod": add_pay_method,
    "DeletePayMethod": delete_pay_method,
}
