"""WHMCS hook events (``docs/contracts/whmcs.md``): verify, parse, de-duplicate, drop caches.

1. ``X-Portal-Signature: sha256=<hex>`` must be the HMAC-SHA256 of the raw body with the shared
   secret (constant-time compare) → else ``INVALID_SIGNATURE``.
2. The body must be an event (``id``, ``event``, ``occurredAt`` RFC 3339, ``clientId``) whose
   ``occurredAt`` is within ``window`` of now → else ``VALIDATION_FAILED`` (a captured request
   cannot be replayed after the window, and inside it the id ledger catches it).
3. A repeated id is acknowledged and ignored.
4. ``clientId`` → portal user (identity's directory); the families the event touches are dropped.
   Unknown events and clients without a portal user are acknowledged and logged. A ClientEdit
   reporting the profile fields the cache holds (the hook of the customer's own update, which
   read the profile back: ``profile``) keeps that copy, in place (``_edit_profile``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog
from portal.billing.v1 import billing_pb2 as pb

from services.billing import mapping
from services.billing.dedupe import EventLedger
from services.common.cache import DROP, Cache, Edit, Family, UserScope, policy
from services.common.directory import Directory
from services.common.errors import InvalidSignature, UpstreamUnavailable, ValidationFailed

log = structlog.get_logger(__name__)

# Which families each forwarded hook drops. An event about one invoice changes the pages and the
# single invoices; a new invoice only the pages (an invoice that did not exist has no cached copy).
_NEW_INVOICE = (policy.INVOICES,)
_INVOICE = (policy.INVOICES, policy.INVOICE_DETAILS)
_SERVICES = (policy.SUBSCRIPTIONS,)
FAMILIES: Mapping[str, tuple[Family[UserScope], ...]] = {
    "InvoiceCreated": _NEW_INVOICE,
    # A paid invoice renews its services: their next due date moves.
    "InvoicePaid": (*_INVOICE, policy.SUBSCRIPTIONS),
    "InvoiceUnpaid": _INVOICE,
    "InvoiceCancelled": _INVOICE,
    "InvoiceRefunded": _INVOICE,
    "AddInvoicePayment": _INVOICE,
    "AddInvoiceLateFee": _INVOICE,
    "UpdateInvoiceTotal": _INVOICE,
    # Splitting moves items to a new invoice (its own InvoiceCreated) and changes the old one.
    "InvoiceSplit": _INVOICE,
    # The client's details; its services only when its status or currency changed (``_client``).
    "ClientEdit": (policy.PROFILE,),
    # Closing a client cancels its invoices and ends its services (if the module forwards it).
    "ClientClose": (policy.PROFILE, *_INVOICE, policy.SUBSCRIPTIONS),
    "ServiceEdit": _SERVICES,
    "ServiceDelete": _SERVICES,
    "AfterModuleCreate": _SERVICES,
    "AfterModuleSuspend": _SERVICES,
    "AfterModuleUnsuspend": _SERVICES,
    "AfterModuleTerminate": _SERVICES,
    "AfterModuleChangePackage": _SERVICES,
    "CancellationRequest": _SERVICES,
    # An accepted order brings new services and usually its first invoice (a new one: its own
    # InvoiceCreated follows as well).
    "AcceptOrder": (policy.SUBSCRIPTIONS, policy.INVOICES),
}
CLIENT_FIELDS_OF_SERVICES = ("status", "currency")
"""ClientEdit fields whose change may change the client's services as the portal shows them
(closing a client cancels its services; the currency is the amounts' unit)."""
MAX_ID_LENGTH = 200


@dataclass(frozen=True)
class Event:
    id: str
    name: str
    occurred_at: datetime
    client_id: int
    data: Mapping[str, Any]


def verify(secret: bytes, body: bytes, signature: str) -> None:
    scheme, _, given = signature.strip().partition("=")
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if scheme != "sha256" or not hmac.compare_digest(given.lower().encode(), expected.encode()):
        raise InvalidSignature()


def parse(body: bytes, now: datetime, window: timedelta) -> Event:
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed.of("body", "The event is not valid JSON.") from None
    if not isinstance(raw, dict):
        raise ValidationFailed.of("body", "The event must be a JSON object.")
    event_id, name = raw.get("id"), raw.get("event")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_ID_LENGTH:
        raise ValidationFailed.of("id", "The event id is missing or invalid.")
    if not isinstance(name, str) or not name:
        raise ValidationFailed.of("event", "The event name is missing.")
    client_id = mapping.numeric_id(raw.get("clientId"))
    if client_id is None:
        raise ValidationFailed.of("clientId", "The client id is missing or invalid.")
    occurred = _instant(raw.get("occurredAt"))
    if occurred is None or abs(now - occurred) > window:
        raise ValidationFailed.of("occurredAt", "The event is too old or its time is invalid.")
    data = raw.get("data")
    return Event(event_id, name, occurred, client_id, data if isinstance(data, dict) else {})


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def families_for(event: Event) -> tuple[Family[UserScope], ...]:
    """The families an event drops; any event naming a pay method also drops ``payments``."""
    families = FAMILIES.get(event.name, ())
    if event.name == "ClientEdit" and _client_change_touches_services(event.data):
        families = (*families, policy.SUBSCRIPTIONS)
    if "paymethodid" in event.data:
        families = (*families, policy.PAYMENTS)
    return families


def _client_change_touches_services(data: Mapping[str, Any]) -> bool:
    """True unless the event shows (``olddata``) that no field in ``CLIENT_FIELDS_OF_SERVICES``
    changed: without ``olddata`` to compare, assume it did."""
    old = data.get("olddata")
    if not isinstance(old, Mapping):
        return True
    return any(
        str(data.get(name, "")).strip().lower() != str(old.get(name, "")).strip().lower()
        for name in CLIENT_FIELDS_OF_SERVICES
        if name in data or name in old
    )


@dataclass(frozen=True)
class WebhookHandler:
    secret: bytes
    window: timedelta
    ledger: EventLedger
    directory: Directory
    cache: Cache

    async def handle(self, body: bytes, signature: str, now: datetime) -> bool:
        """Process one delivery; returns True when it was a duplicate (ignored)."""
        verify(self.secret, body, signature)
        event = parse(body, now, self.window)
        if not await self.ledger.first_time(event.id):
            log.info("webhook_duplicate", hook=event.name, event_id=event.id)
            return True
        try:
            await self._apply(event)
        except BaseException:
            await self.ledger.forget(event.id)
            raise
        return False

    async def _apply(self, event: Event) -> None:
        families = families_for(event)
        if not families:
            log.info("webhook_ignored", hook=event.name, event_id=event.id, reason="unknown")
            return
        user_id = await self.directory.user_of_whmcs_client(event.client_id)
        if user_id is None:
            log.info("webhook_ignored", hook=event.name, event_id=event.id, reason="unmapped")
            return
        scope = UserScope(user_id)
        profile = await self._edit_profile(scope, event.data) if event.name == "ClientEdit" else ""
        edited = profile in ("kept", "dropped")
        dropped = tuple(f for f in families if not (edited and f is policy.PROFILE))
        if dropped:
            first, *more = dropped
            if not await self.cache.invalidate(scope, first, *more):
                raise UpstreamUnavailable()  # the hook module retries; stale reads are worse
        log.info(
            "webhook_applied",
            hook=event.name,
            event_id=event.id,
            families=[f.name for f in dropped],
            **({"profile": profile} if profile else {}),
        )

    async def _edit_profile(self, scope: UserScope, data: Mapping[str, Any]) -> str:
        """Apply a ClientEdit to the cached profile in place: a copy holding the fields the hook
        reports is kept, any other is dropped (``Cache.patch``: the family's generation is
        replaced either way, so a fill that read WHMCS before the edit stores nothing).
        ``kept``, ``dropped`` (a copy differed, or none was cached), or ``""`` when it could not
        be applied (the family is then dropped as for any event)."""
        reported = mapping.hook_profile(data)
        if reported is None:
            return ""
        kept = False

        def edit(cached: pb.BillingProfile) -> pb.BillingProfile | Literal[Edit.DROP] | None:
            nonlocal kept
            kept = cached == reported
            return None if kept else DROP

        if not await self.cache.patch(policy.WHMCS_PROFILE, scope, pb.BillingProfile, edit):
            return ""
        return "kept" if kept else "dropped"
