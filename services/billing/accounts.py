"""Who is who: identity's ``AccountDirectoryService`` over gRPC (portal user ↔ WHMCS client).

``client_of`` runs on every billing request, so the links go through the shared per-user entry
``policy.ACCOUNT_LINKS_USER`` (the same keys identity's own directory fills and invalidates when a
mapping is written): a cached request makes no directory call. On top of that, a found client id
is remembered in the process for ``MEMO_SECONDS`` (a user's WHMCS client never changes once
linked), which saves a cached read one Redis round trip. The reverse lookup (webhooks) is
live. gRPC failures become typed errors in ``services.common.peers``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from portal.identity.v1 import account_directory_pb2 as dpb

from services.common.cache import Cache, UserScope, policy
from services.common.errors import NotFound
from services.common.peers import AccountDirectory

MEMO_SECONDS = 30.0
MEMO_MAX = 10_000


class NoBillingAccount(NotFound):
    default_message = "No billing account is linked to this login."


@dataclass(frozen=True)
class Accounts:
    directory: AccountDirectory
    cache: Cache
    # user id → (WHMCS client id, monotonic deadline)
    _memo: dict[str, tuple[int, float]] = field(default_factory=dict, repr=False)

    async def client_of(self, user_id: str) -> int:
        """The caller's WHMCS client id; ``NoBillingAccount`` when the user has none."""
        if not user_id:
            raise NoBillingAccount()
        remembered = self._memo.get(user_id)
        if remembered is not None and time.monotonic() < remembered[1]:
            return remembered[0]
        client_id = await self._client_of(user_id)
        if len(self._memo) >= MEMO_MAX:
            self._memo.clear()
        self._memo[user_id] = (client_id, time.monotonic() + MEMO_SECONDS)
        return client_id

    async def _client_of(self, user_id: str) -> int:
        links = await self.cache.get_or_load(
            policy.ACCOUNT_LINKS_USER,
            UserScope(user_id),
            lambda: self._links(user_id),
            dpb.AccountLinks,
        )
        if links.whmcs_client_id <= 0:
            raise NoBillingAccount()
        return links.whmcs_client_id

    async def user_of(self, client_id: int) -> str | None:
        """The portal user of a WHMCS client, ``None`` when no portal user is mapped to it."""
        links = await self.directory.user_of_whmcs_client(client_id)
        return (links.user_id or None) if links is not None else None

    async def _links(self, user_id: str) -> dpb.AccountLinks:
        links = await self.directory.links(user_id)
        if links is None:
            raise NoBillingAccount()
        return links
