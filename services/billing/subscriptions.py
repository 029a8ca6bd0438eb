"""Subscriptions (WHMCS services): the caller's list, filtered and paged here, and one by id.

WHMCS's GetClientsProducts cannot filter by status, so the whole list of a client is read once
(in pages of ``UPSTREAM_PAGE`` rows: one call for any normal customer, never one per service),
cached per user in ``SUBSCRIPTIONS_LIST`` (5 min), then filtered and paged in memory. A single
subscription is GetClientsProducts with ``clientid`` *and* ``serviceid`` (WHMCS answers nothing for
someone else's service), cached in ``SUBSCRIPTION_DETAIL`` (10 min). Both are in the
``subscriptions`` family that webhooks and profile updates drop.
"""

from __future__ import annotations

from portal.billing.v1 import billing_pb2 as pb

from services.billing import mapping
from services.billing.core import Billing
from services.common.cache import UserScope, Variant, policy
from services.common.errors import NotFound, ValidationFailed
from services.common.pages import page_size

KIND = "subscriptions"
UPSTREAM_PAGE = 250
MAX_UPSTREAM_PAGES = 20


class SubscriptionNotFound(NotFound):
    default_message = "Subscription not found."


def _filter(status: pb.SubscriptionStatus) -> str:
    if status == pb.SUBSCRIPTION_STATUS_UNSPECIFIED:
        return ""
    if status not in pb.SubscriptionStatus.values():
        raise ValidationFailed.of("status", "Unknown subscription status.")
    return pb.SubscriptionStatus.Name(status)


async def _all(b: Billing, user_id: str) -> pb.ListSubscriptionsResponse:
    client_id = await b.client_of(user_id)

    async def load() -> pb.ListSubscriptionsResponse:
        rows: list[pb.Subscription] = []
        for _ in range(MAX_UPSTREAM_PAGES):
            page = await b.whmcs.get_clients_products(
                client_id, limitstart=len(rows), limitnum=UPSTREAM_PAGE
            )
            rows += [mapping.subscription(r, default_currency=b.currency) for r in page.rows]
            if not page.rows or len(rows) >= page.total:
                break
        return pb.ListSubscriptionsResponse(subscriptions=rows, total_size=len(rows))

    return await b.cache.get_or_load(
        policy.SUBSCRIPTIONS_LIST, UserScope(user_id), load, pb.ListSubscriptionsResponse
    )


async def list_subscriptions(
    b: Billing, user_id: str, status: pb.SubscriptionStatus, size: int, token: str
) -> pb.ListSubscriptionsResponse:
    wanted = _filter(status)
    size = page_size(size)
    offset = b.tokens.decode(token, user_id, KIND, wanted)
    everything = await _all(b, user_id)
    matching = [s for s in everything.subscriptions if not wanted or s.status == status]
    page = matching[offset : offset + size]
    more = offset + len(page) < len(matching)
    return pb.ListSubscriptionsResponse(
        subscriptions=page,
        total_size=len(matching),
        next_page_token=b.tokens.after(offset, len(page), more, user_id, KIND, wanted),
    )


async def get_subscription(b: Billing, user_id: str, subscription_id: str) -> pb.Subscription:
    """The caller's subscription; ``SubscriptionNotFound`` when absent, malformed or not theirs."""
    number = mapping.numeric_id(subscription_id)
    if number is None:
        raise SubscriptionNotFound()
    client_id = await b.client_of(user_id)

    async def load() -> pb.Subscription:
        page = await b.whmcs.get_clients_products(client_id, service_id=number, limitnum=1)
        mine = [r for r in page.rows if mapping.numeric_id(r.get("id")) == number]
        if not mine or mapping.numeric_id(mine[0].get("clientid", client_id)) != client_id:
            raise SubscriptionNotFound()
        return mapping.subscription(mine[0], default_currency=b.currency)

    return await b.cache.get_or_load(
        policy.SUBSCRIPTION_DETAIL,
        UserScope(user_id),
        load,
        pb.Subscription,
        variant=Variant.of(number=number),
    )
