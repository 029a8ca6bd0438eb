"""The billing profile: read from WHMCS GetClientsDetails (cached 30 min, ``profile`` family),
updated through UpdateClient with an update mask.

An update reads the current profile (usually a cache hit), applies only the masked fields,
validates them and writes them to WHMCS. Then it drops the user's ``profile`` family and reads the
profile back through the cache (``_cached``: a fill), so the customer's next read is a hit
holding what GetClientsDetails returns, not what was sent: WHMCS may store a value in its own
form (its phone number setting stores ``+<calling code>.<number>``). The fill reads the family's
generation after the drop and before WHMCS, and stores only if it is unchanged, so a drop racing
the update (a ClientEdit hook, another session's update) wins and nothing from before the write
is cached. The answer is the profile read back; if the read-back fails, the profile as written.
A failed or timed-out UpdateClient drops the family as well (it may have happened upstream) and
reads nothing back.

The ClientEdit hook the update causes leaves the read-back in place when its fields are the
cached ones (``webhooks``). The fields a customer can edit are not part of any subscription, so
subscriptions stay cached (the hook drops them only when the client's status or currency
changed). A changed e-mail is not written: it waits for the code sent to it (``email_change``);
its confirmation (``confirm_email``) writes it the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from portal.billing.v1 import billing_pb2 as pb

from services.billing import mapping, validation
from services.billing.core import Billing
from services.billing.email_change import EmailChanges
from services.common.cache import UserScope, policy
from services.common.emails import email_key
from services.common.errors import PortalError

log = structlog.get_logger(__name__)


async def get_profile(b: Billing, user_id: str) -> pb.BillingProfile:
    return await _cached(b, user_id, await b.client_of(user_id))


async def _cached(b: Billing, user_id: str, client_id: int) -> pb.BillingProfile:
    async def load() -> pb.BillingProfile:
        return mapping.profile(await b.whmcs.get_clients_details(client_id))

    return await b.cache.get_or_load(
        policy.WHMCS_PROFILE, UserScope(user_id), load, pb.BillingProfile
    )


async def update_profile(
    b: Billing,
    changes: EmailChanges,
    user_id: str,
    update: pb.BillingProfile,
    mask: Iterable[str],
) -> tuple[pb.BillingProfile, str]:
    """The profile WHMCS holds after the update, and the new e-mail waiting for its code ("" if
    unchanged)."""
    paths = validation.normalise_mask(mask)
    current = await get_profile(b, user_id)
    merged = validation.apply(current, update, paths)
    validation.validate(merged, paths)
    pending = ""
    if "email" in paths and email_key(merged.email) != email_key(current.email):
        pending, merged.email = merged.email, current.email
    paths = [p for p in paths if p != "email" or not pending]
    if paths:
        merged = await _write(b, user_id, merged, paths)
    if pending:
        await changes.start(user_id, pending)
    return merged, pending


async def confirm_email(
    b: Billing, changes: EmailChanges, user_id: str, code: str
) -> pb.BillingProfile:
    await b.client_of(user_id)  # NOT_FOUND for a user without a billing account
    email = await changes.use(user_id, code)
    profile = await get_profile(b, user_id)
    profile.email = email
    return await _write(b, user_id, profile, ["email"])


async def _write(
    b: Billing, user_id: str, merged: pb.BillingProfile, paths: list[str]
) -> pb.BillingProfile:
    """Write the masked fields; the profile read back (``merged`` if the read-back fails)."""
    client_id = await b.client_of(user_id)
    try:
        await b.whmcs.update_client(client_id, **validation.whmcs_fields(merged, paths))
    finally:  # a failed or timed-out write may still have happened upstream
        await b.cache.invalidate(UserScope(user_id), policy.PROFILE)
    log.info("billing_profile_updated", fields=paths)
    try:
        return await _cached(b, user_id, client_id)
    except PortalError as exc:  # the write is done; the next read loads the profile
        log.warning("billing_profile_read_back_failed", error=type(exc).__name__)
        return merged
