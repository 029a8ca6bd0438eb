"""The account directory: user <-> WHMCS client <-> Salesforce account, for the other services
(which call it through ``services.common.directory``).

``links_of_user`` is on nearly every billing/commerce request, so it goes through the cache
(``policy.ACCOUNT_LINKS_USER``, per user); a user without links raises ``NotFound`` inside the
loader and is never cached, so a fresh sign-up is visible at once. The two reverse lookups are
indexed single-row reads by a key that is not a user id (no user scope to cache them under) and
are served from Postgres. Every mapping write calls :meth:`Directory.changed`.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from portal.identity.v1.account_directory_pb2 import AccountLinks

from services.common.cache import Cache, UserScope, policy
from services.common.errors import NotFound, ValidationFailed
from services.identity import repo


def _message(row: repo.LinkRow) -> AccountLinks:
    return AccountLinks(
        user_id=row.user_id,
        whmcs_client_id=row.whmcs_client_id,
        sf_account_id=row.sf_account_id,
        customer_number=row.customer_number,
        email=row.email,
    )


@dataclass(frozen=True)
class Directory:
    pool: asyncpg.Pool
    cache: Cache

    async def links_of_user(self, user_id: str) -> AccountLinks:
        if not user_id:
            raise ValidationFailed.of("user_id", "A user id is required.")

        async def load() -> AccountLinks:
            row = await repo.links_of_user(self.pool, user_id)
            if row is None:
                raise NotFound()
            return _message(row)

        return await self.cache.get_or_load(
            policy.ACCOUNT_LINKS_USER, UserScope(user_id), load, AccountLinks
        )

    async def users_of_sf_account(self, sf_account_id: str) -> list[AccountLinks]:
        if not sf_account_id:
            raise ValidationFailed.of("sf_account_id", "A Salesforce account id is required.")
        return [_message(r) for r in await repo.links_of_sf_account(self.pool, sf_account_id)]

    async def user_of_whmcs_client(self, whmcs_client_id: int) -> AccountLinks:
        if whmcs_client_id <= 0:
            raise ValidationFailed.of("whmcs_client_id", "A WHMCS client id is required.")
        row = await repo.links_of_whmcs_client(self.pool, whmcs_client_id)
        if row is None:
            raise NotFound()
        return _message(row)

    async def changed(self, user_id: str) -> None:
        """Drop the cached links of a user whose mapping was written."""
        await self.cache.invalidate(UserScope(user_id), policy.ACCOUNT_LINKS)
