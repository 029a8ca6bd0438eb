"""Webhook signature and event parsing (pure parts of ``services.billing.webhooks``)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.billing import webhooks
from services.common.cache import policy
from services.common.errors import InvalidSignature, ValidationFailed

SECRET = b"s3cret"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


def sign(body: bytes, secret: bytes = SECRET) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def event(**overrides: object) -> bytes:
    body = {"id": "evt_1", "event": "InvoicePaid", "occurredAt": "2026-11-27T08:00:00Z",
            "clientId": "42", "data": {"invoiceid": "1001"}} | overrides  # fmt: skip
    return json.dumps(body).encode()


@given(st.binary(max_size=200))
def test_signature_round_trip(body: bytes) -> None:
    webhooks.verify(SECRET, body, sign(body))
    webhooks.verify(SECRET, body, sign(body).upper().replace("SHA256", "sha256"))
    with pytest.raises(InvalidSignature):
        webhooks.verify(SECRET, body + b" ", sign(body))
    with pytest.raises(InvalidSignature):
        webhooks.verify(SECRET, body, sign(body, b"other"))
    with pytest.raises(InvalidSignature):
        webhooks.verify(SECRET, body, sign(body).replace("sha256=", "sha1="))
    with pytest.raises(InvalidSignature):
        webhooks.verify(SECRET, body, "")


def test_parse() -> None:
    parsed = webhooks.parse(event(clientId=42), NOW, WINDOW)
    assert (parsed.id, parsed.name, parsed.client_id) == ("evt_1", "InvoicePaid", 42)
    assert webhooks.families_for(parsed) == (
        policy.INVOICES, policy.INVOICE_DETAILS, policy.SUBSCRIPTIONS
    )  # fmt: skip
    edit = webhooks.parse(event(event="ClientEdit", data={"paymethodid": "3"}), NOW, WINDOW)
    assert webhooks.families_for(edit) == (policy.PROFILE, policy.SUBSCRIPTIONS, policy.PAYMENTS)
    assert webhooks.families_for(webhooks.parse(event(event="Nope"), NOW, WINDOW)) == ()


INVOICE_CHANGES = (
    "InvoicePaid", "InvoiceUnpaid", "InvoiceCancelled", "InvoiceRefunded", "AddInvoicePayment",
    "AddInvoiceLateFee", "UpdateInvoiceTotal", "InvoiceSplit", "ClientClose",
)  # fmt: skip
SERVICE_CHANGES = (
    "InvoicePaid", "ServiceEdit", "ServiceDelete", "AfterModuleCreate", "AfterModuleSuspend",
    "AfterModuleUnsuspend", "AfterModuleTerminate", "AfterModuleChangePackage",
    "CancellationRequest", "AcceptOrder", "ClientClose",
)  # fmt: skip


@pytest.mark.parametrize("name", sorted(webhooks.FAMILIES))
def test_each_forwarded_hook_drops_the_families_it_changes(name: str) -> None:
    """A change of an existing invoice drops the pages and the single invoices; a new invoice
    (and an accepted order, whose invoice comes with its own InvoiceCreated) the pages only;
    every change of a service, and a paid invoice (renewal moves the next due date), the
    subscriptions; the client's details the profile."""
    families = set(webhooks.families_for(webhooks.parse(event(event=name), NOW, WINDOW)))
    assert (policy.INVOICE_DETAILS in families) == (name in INVOICE_CHANGES)
    assert (policy.INVOICES in families) == (
        name in INVOICE_CHANGES or name in ("InvoiceCreated", "AcceptOrder")
    )
    assert (policy.SUBSCRIPTIONS in families) == (name in SERVICE_CHANGES or name == "ClientEdit")
    assert (policy.PROFILE in families) == (name in ("ClientEdit", "ClientClose"))
    assert policy.PAYMENTS not in families


def _client_edit(**changes: str) -> bytes:
    old = {"firstname": "Kenji", "phonenumber": "+81.312345678", "status": "Active"}
    new = {**old, **changes}
    return event(event="ClientEdit", data={**new, "olddata": old})


def test_client_edit_drops_subscriptions_only_when_status_or_currency_changed() -> None:
    """A customer's own profile change (name, phone, address) leaves the services cached; a
    status change (closing the client ends its services) or an event without ``olddata`` to
    compare does not."""

    def families(body: bytes) -> tuple[object, ...]:
        return webhooks.families_for(webhooks.parse(body, NOW, WINDOW))

    assert families(_client_edit(phonenumber="+81.300000000")) == (policy.PROFILE,)
    assert families(_client_edit(firstname="Ken")) == (policy.PROFILE,)
    assert families(_client_edit(status="Closed")) == (policy.PROFILE, policy.SUBSCRIPTIONS)
    assert families(_client_edit(currency="2")) == (policy.PROFILE, policy.SUBSCRIPTIONS)
    assert families(event(event="ClientEdit", data={"firstname": "Ken"})) == (
        policy.PROFILE, policy.SUBSCRIPTIONS
    )  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        event(occurredAt="2026-11-27T07:54:59Z"), event(occurredAt="2026-11-27T08:05:01Z"),
        event(occurredAt="2026-11-27T08:00:00"), event(occurredAt="yesterday"),
        event(id=""), event(id=7), event(id="x" * 201), event(event=""), event(clientId="0"),
        event(clientId="4x"), b"[]", b"{", b"\xff",
    ],
)  # fmt: skip
def test_parse_refuses(body: bytes) -> None:
    with pytest.raises(ValidationFailed):
        webhooks.parse(body, NOW, WINDOW)
