"""WHMCS External API client (``POST <base>/includes/api.php``), over a shared httpx.AsyncClient.

Every method is one action of ``docs/contracts/whmcs.md``. Results stay close to WHMCS's own dicts
(the billing service maps them to the API) except that wrapped lists (``{"invoices": {"invoice":
[...]}}``, ``""``) arrive as plain lists. Reads are retried on outages, writes never (see
``resilience``). The API secret and ``password2`` travel only in the POST body and are never
logged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.common.client_interceptors import add_request_id_header
from services.common.clients.http import transport
from services.common.clients.resilience import Policy, Unreachable, Upstream
from services.common.clients.whmcs_wire import (
    SYSTEM,
    as_bool,
    as_int,
    error_for,
    id_list,
    php_form,
    php_serialize_b64,
    unwrap,
)
from services.common.secret import SecretStr


@dataclass(frozen=True)
class WhmcsConfig:
    url: str = "http://127.0.0.1:8702"
    identifier: str = "portal-dev"
    secret: SecretStr = field(default_factory=lambda: SecretStr("portal-dev-secret"))
    access_key: SecretStr | None = None
    timeout_s: float = 5.0
    connect_timeout_s: float = 2.0
    policy: Policy = field(default_factory=Policy)


@dataclass(frozen=True)
class Login:
    """A WHMCS 8 *user* (a login), not a client: see :meth:`WhmcsClient.clients_of_user`."""

    user_id: int
    two_factor_enabled: bool


@dataclass(frozen=True)
class UserClient:
    """A client a WHMCS user reaches, as its owner or as an invited user."""

    client_id: int
    is_owner: bool


@dataclass(frozen=True)
class Page:
    """One page of a list action: ``total`` is WHMCS's ``totalresults``."""

    total: int
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class OrderLine:
    pid: int
    billingcycle: str = "monthly"
    qty: int = 1
    customfields: Mapping[int | str, str] | None = None
    configoptions: Mapping[int | str, str] | None = None


@dataclass(frozen=True)
class PlacedOrder:
    order_id: int
    service_ids: list[int]
    invoice_id: int | None


@dataclass(frozen=True)
class SsoToken:
    access_token: str
    redirect_url: str

    def __repr__(self) -> str:  # the token is a single-use credential: keep it out of logs
        return "SsoToken(access_token=[redacted], redirect_url=[redacted])"


class WhmcsClient:
    def __init__(self, config: WhmcsConfig, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            event_hooks={"request": [add_request_id_header]},
            transport=transport(config.policy.max_concurrency),
        )
        self._endpoint = config.url.rstrip("/") + "/includes/api.php"
        self._timeout = httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s)
        self.upstream = Upstream(SYSTEM, config.policy)

    async def aclose(self) -> None:
        self.upstream.close()
        if self._own_http:
            await self._http.aclose()

    async def call(
        self, action: str, params: Mapping[str, Any] | None = None, *, read: bool = False
    ) -> dict[str, Any]:
        """Run one action; ``read=True`` marks it idempotent (retried on outages)."""
        form = self._credentials(action) + php_form(params or {})
        return await self.upstream.call(action, lambda: self._post(form), idempotent=read)

    def _credentials(self, action: str) -> list[tuple[str, str]]:
        creds = [
            ("action", action),
            ("responsetype", "json"),
            ("identifier", self.config.identifier),
            ("secret", self.config.secret.get_secret_value()),
        ]
        if self.config.access_key is not None:
            creds.append(("accesskey", self.config.access_key.get_secret_value()))
        return creds

    async def _post(self, form: list[tuple[str, str]]) -> dict[str, Any]:
        try:
            resp = await self._http.post(self._endpoint, data=dict(form), timeout=self._timeout)
        except httpx.TimeoutException:
            raise Unreachable("timeout") from None
        except httpx.HTTPError as exc:
            raise Unreachable(type(exc).__name__) from None
        if resp.status_code != 200:  # 403 (credentials, IP), 5xx, maintenance pages
            raise Unreachable(f"HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError:
            raise Unreachable("non-JSON answer") from None
        if not isinstance(body, dict) or body.get("result") not in ("success", "error"):
            raise Unreachable("unexpected answer shape")
        if body["result"] == "error":
            raise error_for(str(body.get("message", "")))
        return body

    # -- clients ---------------------------------------------------------------------------------
    async def validate_login(self, email: str, password: str) -> Login:
        """Check a WHMCS user's e-mail/password; ``InvalidCredentials`` when wrong. WHMCS sends
        ``twoFactorEnabled`` as the string ``"false"``/``"true"``, hence ``as_bool``."""
        body = await self.call("ValidateLogin", {"email": email, "password2": password}, read=True)
        return Login(as_int(body.get("userid")), as_bool(body.get("twoFactorEnabled")))

    async def clients_of_user(self, user_id: int, email: str) -> list[UserClient]:
        """The clients of one user (GetUsers ``search`` by its e-mail, matched by id)."""
        start = 0
        while True:
            params = {"search": email, "limitstart": start, "limitnum": 100}
            body = await self.call("GetUsers", params, read=True)
            users = unwrap(body.get("users"), "user")
            for user in users:
                if as_int(user.get("id")) == user_id:
                    return [
                        UserClient(as_int(c.get("id")), as_bool(c.get("isOwner")))
                        for c in unwrap(user.get("clients"), "client")
                    ]
            start += len(users)
            if not users or start >= as_int(body.get("totalresults")):
                return []

    async def add_client(
        self,
        *,
        firstname: str,
        lastname: str,
        email: str,
        address1: str,
        city: str,
        state: str,
        postcode: str,
        country: str,
        phonenumber: str,
        password: str,
        customfields: Mapping[int | str, str] | None = None,
        **extra: str | bool,
    ) -> int:
        """Create a client; ``EmailAlreadyRegistered`` when the e-mail is taken. Returns its id."""
        params: dict[str, Any] = {
            "firstname": firstname, "lastname": lastname, "email": email,
            "address1": address1, "city": city, "state": state, "postcode": postcode,
            "country": country, "phonenumber": phonenumber, "password2": password, **extra,
        }  # fmt: skip
        if customfields:
            params["customfields"] = php_serialize_b64(customfields)
        body = await self.call("AddClient", params)
        return as_int(body.get("clientid"))

    async def get_clients_details(
        self, client_id: int | None = None, *, email: str | None = None, stats: bool = False
    ) -> dict[str, Any]:
        """GetClientsDetails: the ``client`` dict (``customfields`` a plain list), plus ``stats``
        when asked. ``NotFound`` when absent."""
        params = {"clientid": client_id, "email": email, "stats": stats or None}
        body = await self.call("GetClientsDetails", params, read=True)
        client = dict(body.get("client") or {})
        client["customfields"] = unwrap(client.get("customfields"), "customfield")
        if stats:
            client["stats"] = body.get("stats") or {}
        return client

    async def update_client(self, client_id: int, **fields: str | bool) -> None:
        """UpdateClient with any profile field (``status="Inactive"`` closes it)."""
        await self.call("UpdateClient", {"clientid": client_id, **fields})

    # -- invoices and payments -------------------------------------------------------------------
    async def get_invoices(
        self,
        user_id: int,
        *,
        status: str | None = None,
        limitstart: int = 0,
        limitnum: int = 25,
        orderby: str | None = None,
        order: str | None = None,
    ) -> Page:
        params = {"userid": user_id, "status": status, "limitstart": limitstart,
                  "limitnum": limitnum, "orderby": orderby, "order": order}  # fmt: skip
        body = await self.call("GetInvoices", params, read=True)
        return Page(as_int(body.get("totalresults")), unwrap(body.get("invoices"), "invoice"))

    async def get_invoice(self, invoice_id: int) -> dict[str, Any]:
        """One invoice (flat), ``items`` and ``transactions`` as plain lists."""
        body = await self.call("GetInvoice", {"invoiceid": invoice_id}, read=True)
        invoice = {k: v for k, v in body.items() if k != "result"}
        invoice["items"] = unwrap(body.get("items"), "item")
        invoice["transactions"] = unwrap(body.get("transactions"), "transaction")
        return invoice

    async def get_pay_methods(
        self, client_id: int, *, type: str | None = None
    ) -> list[dict[str, Any]]:
        body = await self.call("GetPayMethods", {"clientid": client_id, "type": type}, read=True)
        return unwrap(body.get("paymethods"), "paymethod")

    async def get_payment_methods(self) -> list[dict[str, Any]]:
        """The gateways (``module``, ``displayname``)."""
        body = await self.call("GetPaymentMethods", read=True)
        return unwrap(body.get("paymentmethods"), "paymentmethod")

    async def get_clients_products(
        self,
        client_id: int,
        *,
        service_id: int | None = None,
        limitstart: int = 0,
        limitnum: int = 25,
    ) -> Page:
        params = {"clientid": client_id, "serviceid": service_id, "limitstart": limitstart,
                  "limitnum": limitnum}  # fmt: skip
        body = await self.call("GetClientsProducts", params, read=True)
        products = unwrap(body.get("products"), "product")
        for product in products:
            product["customfields"] = unwrap(product.get("customfields"), "customfield")
            product["configoptions"] = unwrap(product.get("configoptions"), "configoption")
        return Page(as_int(body.get("totalresults")), products)

    # -- orders and SSO --------------------------------------------------------------------------
    async def add_order(
        self,
        client_id: int,
        lines: Sequence[OrderLine],
        *,
        payment_method: str = "mailin",
        notes: str | None = None,
        noinvoice: bool | None = None,
        noemail: bool | None = None,
    ) -> PlacedOrder:
        """AddOrder (not provisioned until :meth:`accept_order`). Never retried: look for an
        earlier attempt with :meth:`get_orders` and the ``notes`` marker instead."""
        params: dict[str, Any] = {
            "clientid": client_id, "paymentmethod": payment_method,
            "pid": [ln.pid for ln in lines], "qty": [ln.qty for ln in lines],
            "billingcycle": [ln.billingcycle for ln in lines],
            "notes": notes, "noinvoice": noinvoice, "noemail": noemail,
        }  # fmt: skip
        if any(ln.customfields for ln in lines):
            params["customfields"] = [php_serialize_b64(ln.customfields or {}) for ln in lines]
        if any(ln.configoptions for ln in lines):
            params["configoptions"] = [php_serialize_b64(ln.configoptions or {}) for ln in lines]
        body = await self.call("AddOrder", params)
        invoice = as_int(body.get("invoiceid"))
        return PlacedOrder(
            as_int(body.get("orderid")), id_list(body.get("serviceids")), invoice or None
        )

    async def accept_order(
        self, order_id: int, *, autosetup: bool | None = None, sendemail: bool | None = None
    ) -> None:
        params = {"orderid": order_id, "autosetup": autosetup, "sendemail": sendemail}
        await self.call("AcceptOrder", params)

    async def get_orders(
        self,
        *,
        order_id: int | None = None,
        user_id: int | None = None,
        status: str | None = None,
        limitstart: int = 0,
        limitnum: int = 25,
    ) -> Page:
        """GetOrders; each order's ``lineitems`` is a plain list."""
        params = {"id": order_id, "userid": user_id, "status": status,
                  "limitstart": limitstart, "limitnum": limitnum}  # fmt: skip
        body = await self.call("GetOrders", params, read=True)
        orders = unwrap(body.get("orders"), "order")
        for order in orders:
            order["lineitems"] = unwrap(order.get("lineitems"), "lineitem")
        return Page(as_int(body.get("totalresults")), orders)

    async def create_sso_token(
        self, client_id: int, destination: str, *, redirect_path: str | None = None
    ) -> SsoToken:
        """A single-use 60 s SSO link (``sso:custom_redirect`` to ``viewinvoice.php?id=1``)."""
        params = {"client_id": client_id, "destination": destination,
                  "sso_redirect_path": redirect_path}  # fmt: skip
        body = await self.call("CreateSsoToken", params)
        return SsoToken(str(body.get("access_token", "")), str(body.get("redirect_url", "")))
