"""Profile updates (mask, validation, WHMCS write, cache drop) and the one-time payment link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import httpx
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import error_details_pb2
from portal.billing.v1 import billing_pb2 as pb
from portal.common.v1 import types_pb2

from sandbox.whmcs import RunningWhmcs
from tests.helpers.grpc_errors import bad_request, status_of
from tests.service.billing.helpers import Caller, WhmcsControl


def update(mask: list[str], **fields: object) -> pb.UpdateBillingProfileRequest:
    address = fields.pop("address", None)
    profile = pb.BillingProfile(**fields)  # type: ignore[arg-type]
    if isinstance(address, types_pb2.Address):
        profile.address.CopyFrom(address)
    return pb.UpdateBillingProfileRequest(profile=profile, update_mask=FieldMask(paths=mask))


async def test_update_writes_only_masked_fields(
    hanako: Caller, whmcs: WhmcsControl, whmcs_sandbox: RunningWhmcs
) -> None:
    await hanako.call("GetBillingProfile", pb.GetBillingProfileRequest())
    request = update(
        ["phone", "address.city", "address.postcode"],
        first_name="IGNORED",
        phone="+81 3 9999 0000",
        address=types_pb2.Address(city="Minato-ku", postcode="105-0011", line1="IGNORED"),
    )
    updated = (await hanako.call("UpdateBillingProfile", request)).profile
    assert (updated.first_name, updated.phone, updated.address.city) == (
        "Hanako", "+81 3 9999 0000", "Minato-ku",
    )  # fmt: skip
    assert updated.address.line1 == "1-2-3 Jingumae"
    client = whmcs_sandbox.store.clients[1]
    assert (client.firstname, client.phonenumber, client.city, client.postcode) == (
        "Hanako", "+81 3 9999 0000", "Minato-ku", "105-0011",
    )  # fmt: skip
    before = await whmcs.calls()
    fresh = (await hanako.call("GetBillingProfile", pb.GetBillingProfileRequest())).profile
    assert fresh == updated
    assert (await whmcs.calls())["GetClientsDetails"] == before["GetClientsDetails"]


async def test_camel_case_and_whole_address_paths(
    hanako: Caller, whmcs_sandbox: RunningWhmcs
) -> None:
    address = types_pb2.Address(
        line1="1-1 Marunouchi", city="Chiyoda-ku", state="Tokyo", postcode="1000005", country="jp"
    )
    request = update(["lastName", "address"], last_name="Tanaka", address=address)
    updated = (await hanako.call("UpdateBillingProfile", request)).profile
    assert updated.last_name == "Tanaka" and updated.address.country == "JP"
    assert updated.address.line2 == ""
    assert whmcs_sandbox.store.clients[1].country == "JP"


async def test_invalid_fields_are_reported_together(hanako: Caller, whmcs: WhmcsControl) -> None:
    request = update(
        ["email", "phone", "address.country", "address.postcode", "first_name"],
        email="not-an-email", phone="call me", first_name="",
        address=types_pb2.Address(country="Japan", postcode="??"),
    )  # fmt: skip
    before = await whmcs.calls()
    call = hanako.stub.UpdateBillingProfile(request, metadata=hanako.metadata)
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = await status_of(call)
    assert status is not None
    bad = bad_request(status)
    assert isinstance(bad, error_details_pb2.BadRequest)
    assert {v.field for v in bad.field_violations} == {
        "profile.email", "profile.phone", "profile.address.country", "profile.address.postcode",
        "profile.firstName",
    }  # fmt: skip
    assert "UpdateClient" not in (await whmcs.calls()) - before


async def test_unknown_or_empty_mask_is_refused(hanako: Caller) -> None:
    for mask in (["password"], ["address.planet"], []):
        code, reason, _ = await hanako.fails("UpdateBillingProfile", update(mask, first_name="X"))
        assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")


async def test_profile_update_reads_the_profile_back_and_keeps_subscriptions(
    hanako: Caller, whmcs: WhmcsControl
) -> None:
    """No field a customer edits is part of a subscription: the update refreshes the profile only
    (its read-back is the update's one GetClientsDetails; the reads after it are hits)."""
    await hanako.call("ListSubscriptions", pb.ListSubscriptionsRequest())
    await hanako.call("GetBillingProfile", pb.GetBillingProfileRequest())
    start = await whmcs.calls()
    await hanako.call("UpdateBillingProfile", update(["company_name"], company_name="Yamada KK"))
    before = await whmcs.calls()
    assert before["GetClientsDetails"] - start["GetClientsDetails"] == 1
    await hanako.call("ListSubscriptions", pb.ListSubscriptionsRequest())
    profile = await hanako.call("GetBillingProfile", pb.GetBillingProfileRequest())
    after = await whmcs.calls()
    assert after["GetClientsProducts"] == before["GetClientsProducts"]
    assert after["GetClientsDetails"] == before["GetClientsDetails"]
    assert profile.profile.company_name == "Yamada KK"


async def test_payment_link_opens_the_invoice_once(hanako: Caller, whmcs: WhmcsControl) -> None:
    started = datetime.now(UTC)
    link = await hanako.call(
        "CreateInvoicePaymentLink", pb.CreateInvoicePaymentLinkRequest(invoice_id="1003")
    )
    expires = link.expires_at.ToDatetime(tzinfo=UTC)
    assert started + timedelta(seconds=55) <= expires <= started + timedelta(seconds=65)
    async with httpx.AsyncClient(follow_redirects=True, timeout=5) as http:
        first = await http.get(link.url)
        assert first.status_code == 200 and "Invoice #1003" in first.text
        assert str(first.url).endswith("viewinvoice.php?id=1003")
    async with httpx.AsyncClient(follow_redirects=True, timeout=5) as http:
        second = await http.get(link.url)
        assert second.status_code == 403
    again = await hanako.call(
        "CreateInvoicePaymentLink", pb.CreateInvoicePaymentLinkRequest(invoice_id="1002")
    )
    assert again.url != link.url  # overdue invoices are payable too; each link is new


async def test_payment_link_refusals(hanako: Caller, kenji: Caller) -> None:
    paid = await hanako.fails(
        "CreateInvoicePaymentLink", pb.CreateInvoicePaymentLinkRequest(invoice_id="1001")
    )
    assert paid[:2] == (grpc.StatusCode.FAILED_PRECONDITION, "INVOICE_NOT_PAYABLE")
    for caller, invoice_id in ((kenji, "1003"), (hanako, "999999"), (hanako, "abc")):
        refused = await caller.fails(
            "CreateInvoicePaymentLink", pb.CreateInvoicePaymentLinkRequest(invoice_id=invoice_id)
        )
        assert refused == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND", "Invoice not found.")
