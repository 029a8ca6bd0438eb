"""Billing reads over gRPC against the WHMCS sandbox: mapping, paging, filters, ownership, cache."""

from __future__ import annotations

import grpc
from portal.billing.v1 import billing_pb2 as pb
from portal.common.v1 import types_pb2

from tests.service.billing.helpers import Caller, WhmcsControl

NOT_FOUND = grpc.StatusCode.NOT_FOUND
INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def test_list_invoices_maps_whmcs(hanako: Caller, whmcs: WhmcsControl) -> None:
    response = await hanako.call("ListInvoices", pb.ListInvoicesRequest())
    assert response.total_size == 3
    assert [i.id for i in response.invoices] == ["1003", "1002", "1001"]  # newest first
    statuses = [i.status for i in response.invoices]
    assert statuses == [pb.INVOICE_STATUS_UNPAID, pb.INVOICE_STATUS_OVERDUE, pb.INVOICE_STATUS_PAID]
    paid = response.invoices[2]
    assert (paid.currency_code, paid.subtotal, paid.tax, paid.total) == (
        "JPY", "6500.00", "650.00", "7150.00",
    )  # fmt: skip
    assert paid.balance == "0.00" and paid.HasField("paid_at")
    assert not response.invoices[0].HasField("paid_at")  # 0000-00-00 00:00:00 → unset
    assert response.next_page_token == ""


async def test_invoice_paging_and_filter(hanako: Caller, kenji: Caller) -> None:
    first = await hanako.call("ListInvoices", pb.ListInvoicesRequest(page_size=2))
    assert len(first.invoices) == 2 and first.total_size == 3 and first.next_page_token
    second = await hanako.call(
        "ListInvoices", pb.ListInvoicesRequest(page_size=2, page_token=first.next_page_token)
    )
    assert [i.id for i in second.invoices] == ["1001"] and second.next_page_token == ""
    overdue = await hanako.call(
        "ListInvoices", pb.ListInvoicesRequest(status=pb.INVOICE_STATUS_OVERDUE)
    )
    assert [i.id for i in overdue.invoices] == ["1002"] and overdue.total_size == 1


async def test_bad_page_tokens_are_refused(hanako: Caller, kenji: Caller) -> None:
    token = (await hanako.call("ListInvoices", pb.ListInvoicesRequest(page_size=1))).next_page_token
    tampered = ("A" if token[0] != "A" else "B") + token[1:]
    other_filter = pb.ListInvoicesRequest(status=pb.INVOICE_STATUS_PAID, page_token=token)
    bad = [
        (hanako, pb.ListInvoicesRequest(page_token=tampered)),
        (hanako, pb.ListInvoicesRequest(page_token="garbage")),
        (hanako, other_filter),
        (kenji, pb.ListInvoicesRequest(page_token=token)),  # someone else's token
    ]
    for caller, request in bad:
        code, reason, _ = await caller.fails("ListInvoices", request)
        assert (code, reason) == (INVALID, "VALIDATION_FAILED")
    subs = pb.ListSubscriptionsRequest(page_token=token)  # a token of another list
    assert (await hanako.fails("ListSubscriptions", subs))[1] == "VALIDATION_FAILED"


async def test_page_size_is_capped(hanako: Caller, whmcs: WhmcsControl) -> None:
    for n in range(3):
        await whmcs.api("CreateInvoice", userid=1, itemdescription1=f"Extra {n}", itemamount1="100")
    everything = await hanako.call("ListInvoices", pb.ListInvoicesRequest(page_size=1000))
    assert everything.total_size == 6 and len(everything.invoices) == 6
    _, reason, _ = await hanako.fails("ListInvoices", pb.ListInvoicesRequest(page_size=-1))
    assert reason == "VALIDATION_FAILED"


async def test_get_invoice_with_items(hanako: Caller) -> None:
    invoice = (await hanako.call("GetInvoice", pb.GetInvoiceRequest(invoice_id="1002"))).invoice
    assert invoice.status == pb.INVOICE_STATUS_OVERDUE and invoice.balance == "7150.00"
    assert len(invoice.items) == 1 and invoice.items[0].type == "Hosting"
    assert invoice.items[0].amount == "6500.00"


async def test_foreign_missing_and_malformed_invoices_look_alike(
    hanako: Caller, kenji: Caller
) -> None:
    foreign = await kenji.fails("GetInvoice", pb.GetInvoiceRequest(invoice_id="1001"))
    missing = await kenji.fails("GetInvoice", pb.GetInvoiceRequest(invoice_id="999999"))
    malformed = await kenji.fails("GetInvoice", pb.GetInvoiceRequest(invoice_id="1001 OR 1=1"))
    assert foreign == missing == malformed == (NOT_FOUND, "NOT_FOUND", "Invoice not found.")


async def test_payment_methods_and_gateways(hanako: Caller, whmcs: WhmcsControl) -> None:
    # A card stored locally in WHMCS (no gateway_module_name): type CreditCard, gateway "".
    await whmcs.api("AddPayMethod", clientid=1, type="CreditCard", card_number="5555555555554444",
                    card_expiry="0930")  # fmt: skip
    methods = (
        await hanako.call("ListPaymentMethods", pb.ListPaymentMethodsRequest())
    ).payment_methods
    assert [m.type for m in methods] == [
        pb.PAYMENT_METHOD_TYPE_REMOTE_CARD, pb.PAYMENT_METHOD_TYPE_BANK_ACCOUNT,
        pb.PAYMENT_METHOD_TYPE_CARD,
    ]  # fmt: skip
    visa = methods[0]
    assert (visa.card_brand, visa.last_four, visa.expiry, visa.gateway_name) == (
        "Visa", "4242", "12/28", "stripe",
    )  # fmt: skip
    assert methods[1].bank_name == "Mizuho Bank" and methods[1].last_four == ""
    assert (methods[2].card_brand, methods[2].expiry) == ("MasterCard", "09/30")
    assert (methods[1].gateway_name, methods[2].gateway_name) == ("", "")
    gateways = (await hanako.call("ListPaymentGateways", pb.ListPaymentGatewaysRequest())).gateways
    assert {(g.name, g.display_name) for g in gateways} >= {("stripe", "Credit Card")}


async def test_an_empty_pay_method_list_is_confirmed_live(
    kenji: Caller, whmcs: WhmcsControl
) -> None:
    # WHMCS sends no hook when a card is added: a cached "none" must not block checkout for 15 min.
    await whmcs.api("DeletePayMethod", clientid=2, paymethodid=3)
    request = pb.ListPaymentMethodsRequest()
    before = await whmcs.calls()
    assert not (await kenji.call("ListPaymentMethods", request)).payment_methods
    assert not (await kenji.call("ListPaymentMethods", request)).payment_methods
    assert (await whmcs.calls() - before)["GetPayMethods"] == 2  # the cached "none" was rechecked
    await whmcs.api("AddPayMethod", clientid=2, type="CreditCard", card_number="4111111111111111",
                    card_expiry="1229", gateway_module_name="stripe")  # fmt: skip
    added = (await kenji.call("ListPaymentMethods", request)).payment_methods
    assert [m.last_four for m in added] == ["1111"]
    before = await whmcs.calls()
    again = (await kenji.call("ListPaymentMethods", request)).payment_methods
    assert [m.last_four for m in again] == ["1111"]
    assert (await whmcs.calls() - before)["GetPayMethods"] == 1  # refilled once, then cached
    assert (await kenji.call("ListPaymentMethods", request)).payment_methods == again
    assert (await whmcs.calls() - before)["GetPayMethods"] == 1


async def test_subscriptions(hanako: Caller, kenji: Caller) -> None:
    listed = await hanako.call("ListSubscriptions", pb.ListSubscriptionsRequest())
    assert listed.total_size == 1
    gold = listed.subscriptions[0]
    assert (gold.id, gold.product_name, gold.group_name, gold.status) == (
        "1", "Internet Gold Home 1G", "Internet", pb.SUBSCRIPTION_STATUS_ACTIVE,
    )  # fmt: skip
    assert gold.billing_cycle == types_pb2.BILLING_CYCLE_MONTHLY
    assert (gold.recurring_amount, gold.currency_code) == ("6500.00", "JPY")
    single = await hanako.call("GetSubscription", pb.GetSubscriptionRequest(subscription_id="1"))
    assert single.subscription == gold
    none = await hanako.call(
        "ListSubscriptions", pb.ListSubscriptionsRequest(status=pb.SUBSCRIPTION_STATUS_CANCELLED)
    )
    assert none.total_size == 0 and not none.subscriptions
    for caller, sid in ((kenji, "1"), (hanako, "424242"), (hanako, "x")):
        failure = await caller.fails(
            "GetSubscription", pb.GetSubscriptionRequest(subscription_id=sid)
        )
        assert failure == (NOT_FOUND, "NOT_FOUND", "Subscription not found.")


async def test_subscriptions_list_is_one_upstream_call(hanako: Caller, whmcs: WhmcsControl) -> None:
    for pid in (181, 301, 401):
        await whmcs.api("AddOrder", clientid=1, paymentmethod="mailin", **{"pid[0]": pid})
    before = await whmcs.calls()
    page = await hanako.call("ListSubscriptions", pb.ListSubscriptionsRequest(page_size=2))
    assert page.total_size == 4 and len(page.subscriptions) == 2 and page.next_page_token
    rest = await hanako.call(
        "ListSubscriptions",
        pb.ListSubscriptionsRequest(page_size=2, page_token=page.next_page_token),
    )
    assert len(rest.subscriptions) == 2 and rest.next_page_token == ""
    pending = await hanako.call(
        "ListSubscriptions", pb.ListSubscriptionsRequest(status=pb.SUBSCRIPTION_STATUS_PENDING)
    )
    assert pending.total_size == 3
    after = await whmcs.calls()
    assert after["GetClientsProducts"] - before["GetClientsProducts"] == 1


async def test_profile(hanako: Caller) -> None:
    profile = (await hanako.call("GetBillingProfile", pb.GetBillingProfileRequest())).profile
    assert (profile.first_name, profile.last_name, profile.email) == (
        "Hanako", "Yamada", "hanako.yamada@example.jp",
    )  # fmt: skip
    assert profile.address.country == "JP" and profile.address.postcode == "150-0001"
    assert profile.phone == "+81.312345678"


async def test_second_read_inside_ttl_makes_no_upstream_call(
    hanako: Caller, whmcs: WhmcsControl
) -> None:
    reads = [
        ("ListInvoices", pb.ListInvoicesRequest()),
        ("GetInvoice", pb.GetInvoiceRequest(invoice_id="1003")),
        ("ListPaymentMethods", pb.ListPaymentMethodsRequest()),
        ("ListPaymentGateways", pb.ListPaymentGatewaysRequest()),
        ("ListSubscriptions", pb.ListSubscriptionsRequest()),
        ("GetSubscription", pb.GetSubscriptionRequest(subscription_id="1")),
        ("GetBillingProfile", pb.GetBillingProfileRequest()),
    ]
    first = [await hanako.call(m, r) for m, r in reads]
    before = await whmcs.calls()
    second = [await hanako.call(m, r) for m, r in reads]
    assert await whmcs.calls() == before
    assert first == second


async def test_user_without_billing_account(nolink: Caller) -> None:
    code, reason, message = await nolink.fails("ListInvoices", pb.ListInvoicesRequest())
    assert (code, reason) == (NOT_FOUND, "NOT_FOUND")
    assert "billing account" in message


async def test_whmcs_down_is_503_without_partial_data(hanako: Caller, whmcs: WhmcsControl) -> None:
    await whmcs.fault("unavailable", seconds=30)
    try:
        for method, request in (
            ("ListInvoices", pb.ListInvoicesRequest()),
            ("ListSubscriptions", pb.ListSubscriptionsRequest()),
            ("GetBillingProfile", pb.GetBillingProfileRequest()),
        ):
            code, reason, message = await hanako.fails(method, request)
            assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE")
            assert "try again later" in message
    finally:
        await whmcs.fault("none")


async def test_no_token_is_unauthenticated(channel: grpc.aio.Channel) -> None:
    from portal.billing.v1 import billing_pb2_grpc

    stub = billing_pb2_grpc.BillingServiceStub(channel)
    try:
        await stub.ListInvoices(pb.ListInvoicesRequest())
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
    else:
        raise AssertionError("no token accepted")
