"""What commerce's checkout and fulfillment snapshot (internal RPCs, ``user_id`` in the request)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from portal.billing.v1 import billing_pb2 as pb

from services.billing import payments, profile
from services.billing.core import Billing
from services.common.errors import ValidationFailed


@dataclass(frozen=True)
class CheckoutFacts:
    profile: pb.BillingProfile
    has_payment_method: bool
    gateway: str  # WHMCS payment module of the default pay method, "" when none
    client_id: int


def required_user(user_id: str) -> str:
    if not user_id.strip():
        raise ValidationFailed.of("user_id", "A user id is required.")
    return user_id


async def checkout_facts(b: Billing, user_id: str) -> CheckoutFacts:
    client_id = await b.accounts.client_of(user_id)
    found, methods = await asyncio.gather(
        profile.get_profile(b, user_id), payments.pay_methods(b, user_id)
    )
    rows = methods.payment_methods
    return CheckoutFacts(
        profile=found,
        has_payment_method=bool(rows),
        gateway=rows[0].gateway_name if rows else "",
        client_id=client_id,
    )
