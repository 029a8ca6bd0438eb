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
    assert webhooks.families_for(parsed) == (policy.INVOICES,)
    edit = webhooks.parse(event(event="ClientEdit", data={"paymethodid": "3"}), NOW, WINDOW)
    assert webhooks.families_for(edit) == (policy.PROFILE, policy.SUBSCRIPTIONS, policy.PAYMENTS)
    assert webhooks.families_for(webhooks.parse(event(event="Nope"), NOW, WINDOW)) == ()


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
