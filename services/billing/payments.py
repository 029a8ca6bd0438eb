"""Pay methods (the caller's, 15 min) and payment gateways (1 h), both in the ``payments`` family.

WHMCS lists pay methods in the client's order of preference, so the first one is the default.
Whether one is usable for an order, and with which gateway, is
``services.common.clients.whmcs_gateway`` (checkout and fulfillment alike).
"""

from __future__ import annotations

from portal.billing.v1 import billing_pb2 as pb

from services.billing import mapping
from services.billing.core import Billing
from services.common.cache import UserScope, policy
from services.common.clients.whmcs_gateway import order_gateway


async def pay_methods(b: Billing, user_id: str) -> pb.ListPaymentMethodsResponse:
    """The caller's pay methods. A cached empty list is confirmed live: WHMCS sends no hook when
    a card is added (in its client area, through the payment link), and a customer who just added
    one must not be told for 15 minutes that checkout needs a pay method. Customers without one
    are few and about to add one, so that costs little."""
    client_id = await b.client_of(user_id)
    live = False

    async def load() -> pb.ListPaymentMethodsResponse:
        nonlocal live
        live = True
        rows = await b.whmcs.get_pay_methods(client_id)
        return pb.ListPaymentMethodsResponse(
            payment_methods=[mapping.payment_method(r) for r in rows]
        )

    scope = UserScope(user_id)
    listed = await b.cache.get_or_load(
        policy.PAYMENT_METHODS, scope, load, pb.ListPaymentMethodsResponse
    )
    if listed.payment_methods or live:
        return listed
    fresh = await load()
    if fresh.payment_methods:  # the empty copy is stale: the next read fills the new list
        await b.cache.invalidate(scope, policy.PAYMENTS)
    return fresh


async def gateways(b: Billing, user_id: str) -> pb.ListPaymentGatewaysResponse:
    """WHMCS's gateways are the same for everyone; cached per user like every billing entry (the
    ``payments`` family is per user), which keeps one user's cache drop from touching others."""

    async def load() -> pb.ListPaymentGatewaysResponse:
        rows = await b.whmcs.get_payment_methods()
        return pb.ListPaymentGatewaysResponse(gateways=[mapping.gateway(r) for r in rows])

    return await b.cache.get_or_load(
        policy.PAYMENT_GATEWAYS, UserScope(user_id), load, pb.ListPaymentGatewaysResponse
    )


async def has_pay_method(b: Billing, user_id: str) -> bool:
    """A usable pay method, by the same rule checkout and fulfillment apply."""
    client_id = await b.client_of(user_id)
    gateways = [m.gateway_name for m in (await pay_methods(b, user_id)).payment_methods]
    return await order_gateway(b.whmcs, client_id, gateways) is not None
