"""The billing profile: read from WHMCS GetClientsDetails (cached 30 min, ``profile`` family),
updated through UpdateClient with an update mask.

An update reads the current profile (usually a cache hit), applies only the masked fields,
validates them, writes them to WHMCS, then drops the user's ``profile`` and ``subscriptions``
families and answers with the merged profile, so the next read is the one fresh WHMCS call.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from portal.billing.v1 import billing_pb2 as pb

from services.billing import mapping, profile_rules
from services.billing.core import Billing
from services.common.cache import UserScope, policy

log = structlog.get_logger(__name__)


async def get_profile(b: Billing, user_id: str) -> pb.BillingProfile:
    client_id = await b.accounts.client_of(user_id)

    async def load() -> pb.BillingProfile:
        return mapping.profile(await b.whmcs.get_clients_details(client_id))

    return await b.cache.get_or_load(
        policy.WHMCS_PROFILE, UserScope(user_id), load, pb.BillingProfile
    )


async def update_profile(
    b: Billing, user_id: str, update: pb.BillingProfile, mask: Iterable[str]
) -> pb.BillingProfile:
    paths = profile_rules.normalise_mask(mask)
    current = await get_profile(b, user_id)
    merged = profile_rules.apply(current, update, paths)
    profile_rules.validate(merged, paths)
    client_id = await b.accounts.client_of(user_id)
    try:
        await b.whmcs.update_client(client_id, **profile_rules.whmcs_fields(merged, paths))
    finally:  # a failed or timed-out write may still have happened upstream
        await b.cache.invalidate(UserScope(user_id), policy.PROFILE, policy.SUBSCRIPTIONS)
    log.info("billing_profile_updated", fields=paths)
    return merged
