"""Client actions: ValidateLogin, AddClient, GetClientsDetails, UpdateClient."""

from __future__ import annotations

import re
from typing import Any

from sandbox.whmcs.context import Ctx, Handler
from sandbox.whmcs.models import Client, User, check_password, hash_password
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
CALLING_CODES = {"JP": "81", "US": "1", "GB": "44"}
_PHONE = re.compile(r"^\+?[\d .()-]+$")
REQUIRED_FIELDS = (
    ("address1", "You did not enter your  address line 1"),  # sic: two spaces, as documented
    ("city", "You did not enter your city"),
    ("state", "You did not enter your state"),
    ("postcode", "You did not enter your postcode"),
)


def validate_login(ctx: Ctx, p: Params) -> dict[str, Any]:
    """A *user*'s login (WHMCS 8): ``userid`` is a user id, sent as a string like the example."""
    user = ctx.store.user_by_email(p.text("email"))
    password = p.get("password2") or ""
    if user is None or not password or not check_password(password, user.password_hash):
        raise ApiError("Email or Password Invalid")
    body = success(userid=str(user.id), twoFactorEnabled="true" if user.two_factor else "false")
    if not user.two_factor:  # the session token is only given when no second factor is due
        body["passwordhash"] = user.password_hash
    return body


def _check_email(email: str) -> None:
    if not email:
        raise ApiError("You did not enter your email address")
    if not _EMAIL.match(email):
        raise ApiError("The email address you entered was not valid")
    if email.rsplit("@", 1)[1].lower() in BANNED_DOMAINS:
        raise ApiError("The email address entered is not available for use.")


def _check_required(p: Params) -> None:
    """AddClient's required profile fields, in the order of its documented errors."""
    for name, message in REQUIRED_FIELDS:
        if not p.text(name):
            raise ApiError(message)


def _check_phone(p: Params) -> None:
    phone = p.text("phonenumber")
    if not phone:
        raise ApiError("You did not enter your phone number")
    if not _PHONE.match(phone) or sum(ch.isdigit() for ch in phone) < 6:
        raise ApiError("Invalid telephone phone number")


def _owner(ctx: Ctx, p: Params) -> User | None:
    """The existing owner named by ``owner_user_id``; ``None`` when a new user is to be made."""
    if not p.text("owner_user_id"):
        return None
    owner = ctx.store.users.get(p.int("owner_user_id"))
    if owner is None:
        raise ApiError("Invalid Owner User ID")
    return owner


def _new_owner(ctx: Ctx, p: Params, email: str) -> User:
    if not p.get("password2"):
        raise ApiError("You did not enter a password")
    if ctx.store.user_by_email(email) is not None:
        raise ApiError("A user already exists with that email address")
    return User(
        id=ctx.store.next_id("user"), firstname=p.text("firstname"), lastname=p.text("lastname"),
        email=email, password_hash=hash_password(p.get("password2") or ""), datecreated=ctx.now(),
    )  # fmt: skip


def add_client(ctx: Ctx, p: Params) -> dict[str, Any]:
    owner = _owner(ctx, p)
    strict = not p.flag("skipvalidation")
    if strict:
        for name, label in (("firstname", "first name"), ("lastname", "last name")):
            if not p.text(name):
                raise ApiError(f"You did not enter your {label}")
    email = p.text("email")
    _check_email(email)
    if strict:
        _check_required(p)
    country = p.text("country")
    if not _COUNTRY.match(country):
        raise ApiError("Valid country required")
    if strict:
        _check_phone(p)
    user = owner or _new_owner(ctx, p, email)
    if ctx.store.client_by_email(email) is not None:  # docs silent: UpdateClient's wording
        raise ApiError("Duplicate Email Address")
    client = Client(
        id=ctx.store.next_id("client"), firstname=p.text("firstname"),
        lastname=p.text("lastname"), email=email, owner_user_id=user.id, country=country,
        datecreated=ctx.today(), email_preferences=dict(ALL_EMAIL_PREFERENCES),
    )  # fmt: skip
    for name in PROFILE_FIELDS:
        if name != "email" and p.has(name):
            setattr(client, name, p.text(name))
    client.customfields = _custom_fields(p)
    ctx.store.users[user.id] = user
    ctx.store.clients[client.id] = client
    return success(clientid=str(client.id))


def _custom_fields(p: Params) -> dict[int, str]:
    decoded = php_b64_decode(p.get("customfields")) or {}
    return {int(k): v for k, v in decoded.items() if k.isascii() and k.isdigit()}


def _find_client(ctx: Ctx, p: Params) -> Client | None:
    if p.text("clientid"):
        return ctx.store.clients.get(p.int("clientid"))
    if p.text("email"):
        return ctx.store.client_by_email(p.text("email"))
    return None


def _users_block(ctx: Ctx, c: Client) -> dict[str, Any]:
    ids = [c.owner_user_id, *c.invited_user_ids]
    rows = [
        {"id": u.id, "name": f"{u.firstname} {u.lastname}".strip(), "email": u.email,
         "is_owner": u.id == c.owner_user_id}
        for u in (ctx.store.users.get(i) for i in ids) if u is not None
    ]  # fmt: skip
    return {"user": rows}


def _phone(c: Client) -> dict[str, Any]:
    """``phonecc`` (the country's calling code, a string) and ``phonenumberformatted``
    (``+<cc>.<national number>``), derived from the number as entered and the client's country."""
    cc = CALLING_CODES.get(c.country, "")
    digits = "".join(ch for ch in c.phonenumber if ch.isdigit())
    if c.phonenumber.strip().startswith("+") and digits.startswith(cc):
        digits = digits[len(cc) :]
    national = digits.lstrip("0")
    formatted = f"+{cc}.{national}" if national and cc else c.phonenumber
    return {"phonecc": cc, "phonenumberformatted": formatted, "telephoneNumber": formatted}


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
        "client_id": c.id, "owner_user_id": c.owner_user_id, "userid": c.id, "id": c.id,
        "uuid": f"00000000-0000-4000-8000-{c.id:012d}",
        "firstname": c.firstname, "lastname": c.lastname,
        "fullname": f"{c.firstname} {c.lastname}".strip(), "companyname": c.companyname,
        "email": c.email, "address1": c.address1, "address2": c.address2, "city": c.city,
        "fullstate": c.state, "state": c.state, "postcode": c.postcode, "countrycode": c.country,
        "country": c.country, "phonenumber": c.phonenumber, **_phone(c), "tax_id": "",
        "notes": c.notes,
        "email_preferences": {k: str(v) for k, v in c.email_preferences.items()},
        "statecode": c.state, "billingcid": 0, "currency": 1, "currency_code": "JPY",
        "defaultgateway": c.defaultgateway, "groupid": 0, "status": c.status, "credit": "0.00",
        "taxexempt": False, "latefeeoveride": False, "overideduenotices": False,
        "separateinvoices": False, "disableautocc": False, "emailoptout": False,
        "allowSingleSignOn": 1, "email_verified": False, "language": "",
        "datecreated": ymd(c.datecreated), "lastlogin": "No Login Logged",
        "customfields": customfields, "users": _users_block(ctx, c),
    }  # fmt: skip


def get_clients_details(ctx: Ctx, p: Params) -> dict[str, Any]:
    if not p.text("clientid") and not p.text("email"):
        raise ApiError("Either clientid Or email Is Required")
    client = _find_client(ctx, p)
    if client is None:
        raise ApiError("Client Not Found")
    body = client_body(ctx, client)
    nested = {"customfields", "email_preferences", "users"}
    flat = {k: v for k, v in body.items() if k not in nested}
    response = success(**flat, client=body)
    if p.flag("stats"):
        response["stats"] = client_stats(ctx, client.id)
    return response


def _check_update(ctx: Ctx, p: Params, client: Client) -> None:
    if p.has("email") and p.text("email").lower() != client.email.lower():
        if not _EMAIL.match(p.text("email")):
            raise ApiError("The email address entered is not valid")
        if ctx.store.client_by_email(p.text("email")) is not None:
            raise ApiError("Duplicate Email Address")
    if p.has("status") and p.text("status") not in CLIENT_STATUSES:
        raise ApiError("Invalid status. Valid options include Active, Inactive, Closed")
    if p.has("country") and not _COUNTRY.match(p.text("country")):
        raise ApiError("Valid country required")
    if p.text("paymentmethod") and p.text("paymentmethod") not in ctx.store.gateways:
        raise ApiError(  # docs silent: AddOrder's wording for an unknown gateway
            "Invalid Payment Method. Valid options include " + ",".join(ctx.store.gateways)
        )


def update_client(ctx: Ctx, p: Params) -> dict[str, Any]:
    client = _find_client(ctx, p)
    if client is None:
        raise ApiError("Client ID Not Found")
    _check_update(ctx, p, client)
    olddata = {k: v for k, v in client_body(ctx, client).items() if isinstance(v, str)}
    for name in (*PROFILE_FIELDS, "status", "country"):
        if p.has(name):
            setattr(client, name, p.text(name))
    if p.has("paymentmethod"):
        client.defaultgateway = p.text("paymentmethod")
    if p.get("password2") and client.owner_user_id in ctx.store.users:
        ctx.store.users[client.owner_user_id].password_hash = hash_password(p.text("password2"))
    if p.has("phonenumber") and ctx.settings.phone_numbers_formatted:
        client.phonenumber = _phone(client)["phonenumberformatted"]
    client.customfields.update(_custom_fields(p))
    for key, value in p.mapping("email_preferences").items():
        client.email_preferences[key] = 1 if value.strip() not in {"", "0", "false"} else 0
    data = {k: v for k, v in client_body(ctx, client).items() if isinstance(v, str)}
    ctx.hooks.emit("ClientEdit", client.id, {**data, "userid": str(client.id), "olddata": olddata})
    return success(clientid=str(client.id))


def close_client(ctx: Ctx, p: Params) -> dict[str, Any]:
    """Closes the client, cancels its unpaid invoices and its services (closeclient.md)."""
    client = ctx.store.clients.get(p.int("clientid"))
    if client is None:
        raise ApiError("Client ID Not Found")
    client.status = "Closed"
    for invoice in ctx.store.invoices.values():
        if invoice.userid == client.id and invoice.status in {"Unpaid", "Draft"}:
            invoice.status = "Cancelled"
            invoice.date_cancelled = invoice.updated_at = ctx.now()
    for service in ctx.store.services.values():
        if service.userid == client.id and service.status in {"Pending", "Active", "Suspended"}:
            service.status = "Cancelled" if service.status == "Pending" else "Terminated"
    return success(clientid=client.id)


ACTIONS: dict[str, Handler] = {
    "ValidateLogin": validate_login,
    "AddClient": add_client,
    "GetClientsDetails": get_clients_details,
    "UpdateClient": update_client,
    "CloseClient": close_client,
}
