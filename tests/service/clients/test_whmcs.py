"""WhmcsClient against the WHMCS sandbox: every action, the error table and every fault knob."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from services.common import context
from services.common.clients import BreakerOpen, WhmcsClient, WhmcsConfig, WhmcsRejected
from services.common.clients.whmcs import OrderLine, UserClient
from services.common.clients.whmcs_gateway import order_gateway
from services.common.clients.whmcs_wire import custom_field
from services.common.errors import (
    EmailAlreadyRegistered,
    InvalidCredentials,
    NotFound,
    UpstreamUnavailable,
)
from services.common.metrics import value
from services.common.secret import SecretStr

NEW_CLIENT = dict(
    firstname="Taro", lastname="Suzuki", address1="1-2-3 Shibuya", city="Shibuya-ku",
    state="Tokyo", postcode="150-0002", country="JP", phonenumber="+81.312345678",
)  # fmt: skip


async def test_validate_login(whmcs: WhmcsClient) -> None:
    login = await whmcs.validate_login("hanako.yamada@example.jp", "demo-password-1")
    assert login.user_id == 11  # the WHMCS user, not client 1
    assert login.two_factor_enabled is False  # sent as the string "false"
    two_factor = await whmcs.validate_login("mei.tanaka@example.jp", "demo-password-5")
    assert two_factor.two_factor_enabled is True
    clients = await whmcs.clients_of_user(login.user_id, "hanako.yamada@example.jp")
    assert clients == [UserClient(client_id=1, is_owner=True)]
    invited = await whmcs.clients_of_user(14, "aiko.yamada@example.jp")
    assert invited == [UserClient(client_id=1, is_owner=False)]
    assert await whmcs.clients_of_user(11, "aiko.yamada@example.jp") == []
    with pytest.raises(InvalidCredentials):
        await whmcs.validate_login("hanako.yamada@example.jp", "wrong")


async def test_client_details_and_custom_field(whmcs: WhmcsClient) -> None:
    client = await whmcs.get_clients_details(1, stats=True)
    assert client["email"] == "hanako.yamada@example.jp"
    assert isinstance(client["customfields"], list)
    assert custom_field(client, 198) == "AC-000101"
    assert "numdueinvoices" in client["stats"]
    by_email = await whmcs.get_clients_details(email="no.number@example.jp")
    assert custom_field(by_email, 198) is None
    with pytest.raises(NotFound):
        await whmcs.get_clients_details(9999)


async def test_add_client_with_customer_number_then_duplicate(whmcs: WhmcsClient) -> None:
    client_id = await whmcs.add_client(
        email="taro.suzuki@example.jp",
        password="s3cret-Pass!",
        customfields={198: "AC-000102"},
        **NEW_CLIENT,
    )
    assert client_id > 4
    created = await whmcs.get_clients_details(client_id)
    assert custom_field(created, 198) == "AC-000102"
    login = await whmcs.validate_login("taro.suzuki@example.jp", "s3cret-Pass!")
    assert login.user_id == created["owner_user_id"] != client_id
    owned = await whmcs.clients_of_user(login.user_id, "taro.suzuki@example.jp")
    assert owned == [UserClient(client_id=client_id, is_owner=True)]
    with pytest.raises(EmailAlreadyRegistered):
        await whmcs.add_client(email="taro.suzuki@example.jp", password="x", **NEW_CLIENT)


async def test_update_client(whmcs: WhmcsClient) -> None:
    await whmcs.update_client(1, city="Meguro-ku", status="Inactive")
    client = await whmcs.get_clients_details(1)
    assert (client["city"], client["status"]) == ("Meguro-ku", "Inactive")
    with pytest.raises(NotFound):
        await whmcs.update_client(9999, city="x")
    with pytest.raises(EmailAlreadyRegistered):
        await whmcs.update_client(1, email="kenji.sato@example.jp")


async def test_invoices_are_plain_lists(whmcs: WhmcsClient) -> None:
    page = await whmcs.get_invoices(1)
    assert page.total == 3
    assert sorted(int(i["id"]) for i in page.rows) == [1001, 1002, 1003]
    unpaid = await whmcs.get_invoices(1, status="Unpaid")
    assert {i["status"] for i in unpaid.rows} <= {"Unpaid"}
    empty = await whmcs.get_invoices(3)
    assert (empty.total, empty.rows) == (0, [])
    invoice = await whmcs.get_invoice(1001)
    assert isinstance(invoice["items"], list) and invoice["items"]
    assert isinstance(invoice["transactions"], list)
    assert "result" not in invoice
    with pytest.raises(NotFound):
        await whmcs.get_invoice(424242)


async def test_pay_methods_gateways_and_products(whmcs: WhmcsClient) -> None:
    methods = await whmcs.get_pay_methods(1)
    assert {m["type"] for m in methods} == {"RemoteCreditCard", "BankAccount"}
    assert await whmcs.get_pay_methods(3) == []
    gateways = await whmcs.get_payment_methods()
    assert {g["module"] for g in gateways} >= {"stripe", "banktransfer", "mailin"}
    products = await whmcs.get_clients_products(1)
    assert products.total == 1
    assert int(products.rows[0]["pid"]) == 182
    assert isinstance(products.rows[0]["customfields"], list)
    with pytest.raises(NotFound):
        await whmcs.get_pay_methods(9999)


async def test_add_accept_and_find_order(whmcs: WhmcsClient) -> None:
    lines = [OrderLine(pid=181), OrderLine(pid=242, billingcycle="onetime")]
    placed = await whmcs.add_order(1, lines, notes="sfOrderId=801000000000000AAA")
    assert placed.order_id > 0 and len(placed.service_ids) == 2
    await whmcs.accept_order(placed.order_id)
    page = await whmcs.get_orders(user_id=1)
    mine = [o for o in page.rows if o["notes"] == "sfOrderId=801000000000000AAA"]
    assert len(mine) == 1 and int(mine[0]["id"]) == placed.order_id
    assert isinstance(mine[0]["lineitems"], list) and len(mine[0]["lineitems"]) == 2
    with pytest.raises(WhmcsRejected) as err:
        await whmcs.accept_order(placed.order_id)
    assert "Order ID not found" in err.value.detail
    with pytest.raises(WhmcsRejected, match="Invalid Payment Method"):
        await whmcs.add_order(1, lines, payment_method="bitcoin")


async def test_sso_token(whmcs: WhmcsClient) -> None:
    token = await whmcs.create_sso_token(
        1, "sso:custom_redirect", redirect_path="viewinvoice.php?id=1003"
    )
    assert token.access_token and token.access_token in token.redirect_url
    assert token.access_token not in repr(token)


async def test_bad_credentials_are_unavailable(whmcs_sandbox, whmcs_control) -> None:
    client = WhmcsClient(WhmcsConfig(url=whmcs_sandbox.url, secret=SecretStr("wrong")))
    with pytest.raises(UpstreamUnavailable):
        await client.get_payment_methods()
    await client.aclose()


async def test_unavailable_read_is_retried_and_recovers(whmcs, whmcs_control) -> None:
    await whmcs_control.fault("unavailable", count=2, action="GetInvoices")
    page = await whmcs.get_invoices(1)
    assert page.total == 3
    assert (await whmcs_control.calls())["GetInvoices"] == 3


async def test_unavailable_read_gives_up_after_attempts(whmcs, whmcs_control) -> None:
    await whmcs_control.fault("unavailable", count=5, action="GetInvoice", status=503)
    with pytest.raises(UpstreamUnavailable):
        await whmcs.get_invoice(1001)
    assert (await whmcs_control.calls())["GetInvoice"] == 3


async def test_failed_write_is_attempted_once(whmcs, whmcs_control) -> None:
    await whmcs_control.fault("unavailable", count=1, action="AddOrder")
    with pytest.raises(UpstreamUnavailable):
        await whmcs.add_order(1, [OrderLine(pid=181)])
    assert (await whmcs_control.calls())["AddOrder"] == 1


async def test_latency_beyond_timeout(whmcs, whmcs_control) -> None:
    await whmcs_control.fault("latency", count=1, latency_ms=2500, action="UpdateClient")
    with pytest.raises(UpstreamUnavailable):
        await whmcs.update_client(1, city="Slow")
    assert (await whmcs_control.calls())["UpdateClient"] == 1


async def test_rate_limit_and_expired_session_are_unavailable(whmcs, whmcs_control) -> None:
    await whmcs_control.fault("rate_limit", count=1, action="AcceptOrder")
    with pytest.raises(UpstreamUnavailable):
        await whmcs.accept_order(1)
    await whmcs_control.fault("expire_session", count=1, action="CreateSsoToken")
    with pytest.raises(UpstreamUnavailable):
        await whmcs.create_sso_token(1, "clientarea:invoices")


async def test_business_error_is_typed_and_not_retried(whmcs, whmcs_control) -> None:
    await whmcs_control.fault("business_error", count=1, action="GetOrders", message="Boom")
    with pytest.raises(WhmcsRejected) as err:
        await whmcs.get_orders(user_id=1)
    assert err.value.detail == "Boom"
    assert (await whmcs_control.calls())["GetOrders"] == 1


async def test_breaker_opens_then_closes_after_cooldown(whmcs, whmcs_control) -> None:
    await whmcs_control.fault("unavailable", count=3)
    with pytest.raises(UpstreamUnavailable):
        await whmcs.get_payment_methods()  # 3 attempts, 3 failures: threshold reached
    assert whmcs.upstream.breaker.state == "open"
    assert value("portal_upstream_breaker_open", {"system": "whmcs"}) == 1
    before = await whmcs_control.calls()
    with pytest.raises(BreakerOpen):
        await whmcs.get_payment_methods()
    assert await whmcs_control.calls() == before  # failed fast: WHMCS not called
    await asyncio.sleep(1.05)
    assert len(await whmcs.get_payment_methods()) >= 3  # the half-open probe succeeds
    assert whmcs.upstream.breaker.state == "closed"
    assert value("portal_upstream_breaker_open", {"system": "whmcs"}) == 0


async def test_metrics_count_outcomes(whmcs, whmcs_control) -> None:
    labels = {"system": "whmcs", "operation": "GetPayMethods"}
    ok0 = value("portal_upstream_calls_total", {**labels, "outcome": "ok"})
    un0 = value("portal_upstream_calls_total", {**labels, "outcome": "unavailable"})
    await whmcs_control.fault("unavailable", count=1, action="GetPayMethods")
    await whmcs.get_pay_methods(1)
    assert value("portal_upstream_calls_total", {**labels, "outcome": "ok"}) == ok0 + 1
    assert value("portal_upstream_calls_total", {**labels, "outcome": "unavailable"}) == un0 + 1


async def test_no_secret_or_password_in_logs(whmcs, whmcs_control, caplog) -> None:
    caplog.set_level("DEBUG")
    with capture_logs() as logs:
        await whmcs.validate_login("hanako.yamada@example.jp", "demo-password-1")
        with pytest.raises(InvalidCredentials):
            await whmcs.validate_login("hanako.yamada@example.jp", "not-the-password")
        await whmcs_control.fault("unavailable", count=2, action="ValidateLogin")
        await whmcs.validate_login("hanako.yamada@example.jp", "demo-password-1")
        token = await whmcs.create_sso_token(1, "clientarea:invoices")
    assert any(e["event"] == "upstream_call_failed" for e in logs)
    failed = [e for e in logs if e["event"] == "upstream_call_failed"]
    assert {e["outcome"] for e in failed} >= {"error", "unavailable"}
    assert all(e["system"] == "whmcs" and e["operation"] for e in failed)
    text = repr(logs) + caplog.text
    for secret in ("portal-dev-secret", "demo-password-1", "not-the-password", token.access_token):
        assert secret not in text


async def test_order_gateway_rule(whmcs: WhmcsClient) -> None:
    async def gateway(client_id: int) -> str | None:
        methods = await whmcs.get_pay_methods(client_id)
        return await order_gateway(whmcs, client_id, [m["gateway_name"] for m in methods])

    assert await gateway(1) == "stripe"  # a remote card names its gateway
    assert await gateway(3) is None  # no pay method: not usable
    await whmcs.call("AddPayMethod", {"clientid": 3, "card_number": "4111111111111111",
                                      "card_expiry": "0130"})  # fmt: skip
    assert (await whmcs.get_pay_methods(3))[0]["gateway_name"] == ""  # stored locally
    assert await gateway(3) == "stripe"  # no default gateway: the first active one
    await whmcs.update_client(3, paymentmethod="mailin")
    assert await gateway(3) == "mailin"  # the client's default gateway


async def test_calls_are_counted_by_the_rpc_being_served(whmcs, whmcs_control) -> None:
    """Each attempt counts once, under the RPC whose context made it ("background" outside any
    RPC); a call the breaker refuses is not a call."""
    rpc = "/portal.billing.v1.BillingService/ListPaymentMethods"
    served = {"system": "whmcs", "rpc": rpc}
    background = {"system": "whmcs", "rpc": "background"}
    served0 = value("portal_upstream_calls_by_rpc_total", served)
    background0 = value("portal_upstream_calls_by_rpc_total", background)
    await whmcs_control.fault("unavailable", count=1, action="GetPayMethods")

    async def in_rpc() -> None:
        context.rpc_method.set(rpc)
        await whmcs.get_pay_methods(1)

    await asyncio.create_task(in_rpc())  # a task of its own, as grpc.aio serves each RPC
    assert value("portal_upstream_calls_by_rpc_total", served) == served0 + 2  # failed + retry
    await whmcs.get_pay_methods(1)
    assert value("portal_upstream_calls_by_rpc_total", background) == background0 + 1
    assert value("portal_upstream_calls_by_rpc_total", served) == served0 + 2
