"""Client actions: ValidateLogin, AddClient, GetClientsDetails, UpdateClient."""

from __future__ import annotations

import re
from typing import Any

from sandbox.whmcs.context import Ctx, Handler
from sandbox.whmcs.models import Client, check_password, hash_password
from sandbox.whmcs.phpform import Params, php_b64_decode
from sandbox.whmcs.seed import ALL_EMAIL_PREFERENCES, CLIENT_CUSTOM_FIELDS
from sandbox.whmcs.stats import client_stats
from sandbox.whmcs.wire import ApiError, success, ymd

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
BANNED_DOMAINS = frozenset({"mailinator.com", "example.invalid"})
PROFILE_FIELDS = (
    "firstname", "lastname", "companyname", "email", "address1", "address2",
    "city", "state", "postcode", "phonenumber", "notes",
)  # fmt: skip
CLIENT_STATUSES = frozenset({"Active", "Inactive", "Closed"})


def validate_login(ctx: Ctx, p: Params) -> dict[str, Any]:
    client = ctx.store.client_by_email(p.text("email"))
    if client is None or not check_password(p.get("password2") or "", client.password_hash):
        raise ApiError("Email or Password Invalid")
    if client.status == "Closed":
        raise ApiError("Email or Password Invalid")
    return success(userid=client.id, passwordhash=client.password_hash, twoFactorEnabled=False)


def _check_email(ctx: Ctx, email: str) -> None:
    if not email:
        raise ApiError("You did not enter your email address")
    if not _EMAIL.match(email):
        raise ApiError("The email address you entered was not valid")
    if email.rsplit("@", 1)[1].lower() in BANNED_DOMAINS:
        raise ApiError("The email address entered is not available for use.")


def add_client(ctx: Ctx, p: Params) -> dict[str, Any]:
    email = p.text("email")
    _check_email(ctx, email)
    if not p.flag("skipvalidation"):
        for name, label in (("firstname", "first name"), ("lastname", "last name")):
            if not p.text(name):
                raise ApiError(f"You did not enter your {label}")
    country = p.text("country")
    if not _COUNTRY.match(country):
        raise ApiError("Valid country required")
    if ctx.store.client_by_email(email) is not None:
        raise ApiError("A user already exists with that email address")
    client = Client(
        id=ctx.store.next_id("client"),
        firstname=p.text("firstname"),
        lastname=p.text("lastname"),
        email=email,
        password_hash=hash_password(p.get("password2") or ""),
        country=country,
        datecreated=ctx.today(),
        email_preferences=dict(ALL_EMAIL_PREFERENCES),
    )
    for name in PROFILE_FIELDS:
        if name != "email" and p.has(name):
            setattr(client, name, p.text(name))
    client.customfields = _custom_fields(p)
    ctx.store.clients[client.id] = client
    return success(clientid=str(client.id))


def _custom_fields(p: Params) -> dict[int, str]:
    decoded = php_b64_decode(p.get("customfields")) or {}
    return {int(k): v for k, v in decoded.items() if k.isdigit()}


def _find_client(ctx: Ctx, p: Params) -> Client | None:
    if p.text("clientid"):
        return ctx.store.clients.get(p.int("clientid"))
    if p.text("email"):
        return ctx.store.client_by_email(p.text("email"))
    return None


def client_body(ctx: Ctx, c: Client) -> dict[str, Any]:
    customfields = [
        {"id": fid, "value": c.customfields.get(fid, "")} for fid in CLIENT_CUSTOM_FIELDS
    ]
    customfields += [
        {"id": fid, "value": v}
        for fid, v in c.customfields.items()
        if fid not in CLIENT_CUSTOM_FIELDS
    ]
    return {
        "id": c.id, "userid": c.id, "uuid": f"00000000-0000-4000-8000-{c.id:012d}",
        "firstname": c.firstname, "lastname": c.lastname,
        "fullname": f"{c.firstname} {c.lastname}".strip(), "companyname": c.companyname,
        "email": c.email, "address1": c.address1, "address2": c.address2, "city": c.city,
        "fullstate": c.state, "state": c.state, "postcode": c.postcode, "countrycode": c.country,
        "country": c.country, "phonenumber": c.phonenumber, "tax_id": "", "notes": c.notes,
        "email_preferences": dict(c.email_preferences), "currency": 1, "currency_code": "JPY",
        "defaultgateway": "", "groupid": 0, "status": c.status, "credit": "0.00",
        "taxexempt": False, "latefeeoveride": False, "overideduenotices": False,
        "separateinvoices": False, "disableautocc": False, "emailoptout": False,
        "allowSingleSignOn": 1, "email_verified": False, "language": "",
        "datecreated": ymd(c.datecreated), "lastlogin": "No Login Logged",
        "customfields": customfields,
    }  # fmt: skip


def get_clients_details(ctx: Ctx, p: Params) -> dict[str, Any]:
    client = _find_client(ctx, p)
    if client is None:
        raise ApiError("Client Not Found")
    body = client_body(ctx, client)
    flat = {k: v for k, v in body.items() if k not in {"customfields", "email_preferences"}}
    response = success(**flat, client=body)
    if p.flag("stats"):
        response["stats"] = client_stats(ctx, client.id)
    return response


def update_client(ctx: Ctx, p: Params) -> dict[str, Any]:
    client = _find_client(ctx, p)
    if client is None:
        raise ApiError("Client ID Not Found")
    if p.has("email") and p.text("email").lower() != client.email.lower():
        _check_email(ctx, p.text("email"))
        if ctx.store.client_by_email(p.text("email")) is not None:
            raise ApiError("Duplicate Email Address")
    if p.has("status") and p.text("status") not in CLIENT_STATUSES:
        raise ApiError("Invalid status. Valid options include Active, Inactive, Closed")
    if p.has("country") and not _COUNTRY.match(p.text("country")):
        raise ApiError("Valid country required")
    olddata = {k: v for k, v in client_body(ctx, client).items() if isinstance(v, str)}
    for name in (*PROFILE_FIELDS, "status", "country"):
        if p.has(name):
            setattr(client, name, p.text(name))
    if p.get("password2"):
        client.password_hash = hash_password(p.get("password2") or "")
    client.customfields.update(_custom_fields(p))
    for key, value in p.mapping("email_preferences").items():
        client.email_preferences[key] = 1 if value.strip() not in {"", "0", "false"} else 0
    data = {k: v for k, v in client_body(ctx, client).items() if isinstance(v, str)}
    ctx.hooks.emit("ClientEdit", client.id, {**data, "userid": str(client.id), "olddata": olddata})
    return success(clientid=str(client.id))


ACTIONS: dict[str, Handler] = {
    "ValidateLogin": validate_login,
    "AddClient": add_client,
    "GetClientsDetails": get_clients_details,
    "UpdateClient": update_client,
}
