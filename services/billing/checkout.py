"""What commerce's checkout and fulfillment snapshot (internal RPCs, ``user_id`` in the request)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from portal.billing.v1 import billing_pb2 as pb

from services.billing import payments, profile
from services.billing.core import Billing
from services.common.clients.whmcs_gateway import order_gateway
from services.common.errors import ValidationFailed


@dataclass(frozen=True)
class CheckoutFacts:
    profile: pb.BillingProfile
    has_payment_method: bool  # a usable pay method (services.common.clients.whmcs_gateway)
    gateway: str  # the WHMCS payment module an order is placed with, "" when none
    client_id: int


def required_user(user_id: str) -> str:
    if not user_id.strip():
        raise ValidationFailed.of("user_id", "A user id is required.")
    return user_id


async def checkout_facts(b: Billing, user_id: str) -> CheckoutFacts:
    client_id = await b.client_of(user_id)
    found, methods = await asyncio.gather(
        profile.get_profile(b, user_id), payments.pay_methods(b, user_id)
    )
    gateways = [m.gateway_name for m in methods.payment_methods]
    gateway = await order_gateway(b.whmcs, client_id, gateways)
    return CheckoutFacts(
        profile=found,
        has_payment_method=gateway is not None,
        gateway=gateway or "",
        client_id=client_id,
    )
