"""HandleWhmcsWebhook over gRPC: signature, time window, duplicates, mapping, invalidation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
from google.api import httpbody_pb2
from portal.billing.v1 import billing_pb2 as pb
from portal.billing.v1 import billing_pb2_grpc

from tests.helpers.grpc_errors import error_info, status_of
from tests.service.billing.conftest import WEBHOOK_SECRET
from tests.service.billing.helpers import (
    Caller,
    Directory,
    WhmcsControl,
    signature,
    webhook_body,
)


async def deliver(
    channel: grpc.aio.Channel, body: bytes, sig: str | None = None
) -> pb.HandleWhmcsWebhookResponse:
    stub = billing_pb2_grpc.BillingServiceStub(channel)
    request = pb.HandleWhmcsWebhookRequest(
        body=httpbody_pb2.HttpBody(content_type="application/json", data=body)
    )
    header = signature(WEBHOOK_SECRET, body) if sig is None else sig
    metadata = (("x-portal-signature", header),) if header else ()
    return await stub.HandleWhmcsWebhook(request, metadata=metadata)


async def refused(channel: grpc.aio.Channel, body: bytes, sig: str | None = None) -> str:
    stub = billing_pb2_grpc.BillingServiceStub(channel)
    request = pb.HandleWhmcsWebhookRequest(body=httpbody_pb2.HttpBody(data=body))
    header = signature(WEBHOOK_SECRET, body) if sig is None else sig
    call = stub.HandleWhmcsWebhook(request, metadata=(("x-portal-signature", header),))
    try:
        await call
    except grpc.aio.AioRpcError:
        status = await status_of(call)
        assert status is not None
        return error_info(status).reason
    raise AssertionError("accepted")


async def invoice_calls(whmcs: WhmcsControl) -> int:
    return (await whmcs.calls())["GetInvoices"]


async def test_signed_event_drops_the_invoices_of_that_user(
    channel: grpc.aio.Channel, hanako: Caller, whmcs: WhmcsControl
) -> None:
    await hanako.call("ListInvoices", pb.ListInvoicesRequest())
    start = await invoice_calls(whmcs)
    await hanako.call("ListInvoices", pb.ListInvoicesRequest())
    assert await invoice_calls(whmcs) == start
    response = await deliver(channel, webhook_body(1, "InvoicePaid", invoiceid="1003"))
    assert response.duplicate is False
    await hanako.call("ListInvoices", pb.ListInvoicesRequest())
    await hanako.call("ListInvoices", pb.ListInvoicesRequest())
    assert await invoice_calls(whmcs) == start + 1


async def test_forged_missing_and_stale_events_change_nothing(
    channel: grpc.aio.Channel, hanako: Caller, whmcs: WhmcsControl
) -> None:
    await hanako.call("ListInvoices", pb.ListInvoicesRequest())
    start = await invoice_calls(whmcs)
    body = webhook_body(1, "InvoicePaid")
    assert await refused(channel, body, sig="sha256=" + "0" * 64) == "INVALID_SIGNATURE"
    assert await refused(channel, body, sig="") == "INVALID_SIGNATURE"
    assert await refused(channel, body, sig=signature("wrong-secret", body)) == "INVALID_SIGNATURE"
    tampered = body.replace(b'"1"', b'"2"')
    assert await refused(channel, tampered, sig=signature(WEBHOOK_SECRET, body)) == (
        "INVALID_SIGNATURE"
    )
    stale = webhook_body(1, occurred=datetime.now(UTC) - timedelta(minutes=10))
    future = webhook_body(1, occurred=datetime.now(UTC) + timedelta(minutes=10))
    for bad in (stale, future, b"not json", b'{"id": "x"}', webhook_body("abc")):
        assert await refused(channel, bad) == "VALIDATION_FAILED"
    await hanako.call("ListInvoices", pb.ListInvoicesRequest())
    assert await invoice_calls(whmcs) == start


async def test_duplicate_event_is_ignored(
    channel: grpc.aio.Channel, hanako: Caller, whmcs: WhmcsControl
) -> None:
    body = webhook_body(1, "InvoiceCreated")
    assert (await deliver(channel, body)).duplicate is False
    await hanako.call("ListInvoices", pb.ListInvoicesRequest())
    start = await invoice_calls(whmcs)
    assert (await deliver(channel, body)).duplicate is True
    await hanako.call("ListInvoices", pb.ListInvoicesRequest())
    assert await invoice_calls(whmcs) == start


async def test_events_drop_their_families(
    channel: grpc.aio.Channel, hanako: Caller, whmcs: WhmcsControl
) -> None:
    reads = {
        "GetBillingProfile": (pb.GetBillingProfileRequest(), "GetClientsDetails"),
        "ListSubscriptions": (pb.ListSubscriptionsRequest(), "GetClientsProducts"),
        "ListInvoices": (pb.ListInvoicesRequest(), "GetInvoices"),
        "GetInvoice": (pb.GetInvoiceRequest(invoice_id="1002"), "GetInvoice"),
        "ListPaymentMethods": (pb.ListPaymentMethodsRequest(), "GetPayMethods"),
    }

    async def refetched() -> set[str]:
        before = await whmcs.calls()
        for method, (request, _) in reads.items():
            await hanako.call(method, request)
        after = await whmcs.calls()
        return {m for m, (_, action) in reads.items() if after[action] > before[action]}

    await refetched()
    await deliver(channel, webhook_body(1, "ClientEdit"))
    assert await refetched() == {"GetBillingProfile", "ListSubscriptions"}
    await deliver(channel, webhook_body(1, "ServiceEdit", serviceid="1"))
    assert await refetched() == {"ListSubscriptions"}
    await deliver(channel, webhook_body(1, "AcceptOrder", orderid="9"))
    assert await refetched() == {"ListSubscriptions", "ListInvoices"}  # not the single invoices
    await deliver(channel, webhook_body(1, "ClientEdit", paymethodid="4"))
    assert await refetched() == {"GetBillingProfile", "ListSubscriptions", "ListPaymentMethods"}
    # A new invoice: the pages; a paid one: pages, the single invoices and the renewed services.
    await deliver(channel, webhook_body(1, "InvoiceCreated", invoiceid="1009"))
    assert await refetched() == {"ListInvoices"}
    await deliver(channel, webhook_body(1, "InvoicePaid", invoiceid="1002"))
    assert await refetched() == {"ListInvoices", "GetInvoice", "ListSubscriptions"}
    await deliver(channel, webhook_body(1, "AfterModuleSuspend", serviceid="1"))
    assert await refetched() == {"ListSubscriptions"}
    await deliver(channel, webhook_body(1, "UpdateInvoiceTotal", invoiceid="1002"))
    assert await refetched() == {"ListInvoices", "GetInvoice"}
    # A customer's own detail change (its ClientEdit shows the old values) leaves the services.
    old = {"phonenumber": "+81.312345678", "status": "Active"}
    edit = webhook_body(1, "ClientEdit", phonenumber="+81.399999999", status="Active", olddata=old)
    await deliver(channel, edit)
    assert await refetched() == {"GetBillingProfile"}


async def test_unknown_events_and_unmapped_clients_are_acknowledged(
    channel: grpc.aio.Channel, directory: Directory, hanako: Caller, whmcs: WhmcsControl
) -> None:
    await hanako.call("ListInvoices", pb.ListInvoicesRequest())
    start = await invoice_calls(whmcs)
    assert (await deliver(channel, webhook_body(1, "DailyCronJob"))).duplicate is False
    assert (await deliver(channel, webhook_body(777, "InvoicePaid"))).duplicate is False
    await hanako.call("ListInvoices", pb.ListInvoicesRequest())
    assert await invoice_calls(whmcs) == start
    assert directory.double.calls["GetUserByWhmcsClient"] == 1  # unknown events need no lookup
