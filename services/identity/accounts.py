"""Creating a portal user for a Salesforce account: the one transaction both flows share.

User + mapping + outbox row (+ the first session) are written in ONE transaction, so either all
exist or none does. A unique violation maps to the API's reason (the e-mail, or the Salesforce
account / WHMCS client, is already taken: e.g. two sign-ups for one customer number racing).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.common.errors import AccountAlreadyRegistered, EmailAlreadyRegistered, PortalError
from services.identity import repo
from services.identity.customers import Customers, SfAccount
from services.identity.directory import Directory
from services.identity.login import SignedIn
from services.identity.outbox import Relay, enqueue_account_update
from services.identity.sessions import Sessions


def wh_account(client_id: int, first: str, last: str) -> str:
    return f"#{client_id} - {first} {last}".strip()


def conflict(exc: asyncpg.UniqueViolationError) -> PortalError:
    constraint = getattr(exc, "constraint_name", "") or ""
    if "email" in constraint:
        return EmailAlreadyRegistered()
    return AccountAlreadyRegistered()


@dataclass(frozen=True)
class Accounts:
    pool: asyncpg.Pool
    sessions: Sessions
    directory: Directory
    customers: Customers
    relay: Relay

    async def create(self, new: repo.NewUser, account: SfAccount) -> SignedIn:
        """Write user, mapping, outbox row and session; raise the API error on a conflict."""
        update = {
            "Portal_Status__c": "Active",
            "Portal_Registration_Source__c": new.source,
            "WH_Account__c": wh_account(new.whmcs_client_id, new.first_name, new.last_name),
        }
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                user_id = await repo.insert_user(conn, new)
                await enqueue_account_update(conn, account.id, update)
                session = await self.sessions.issue(conn, user_id)
                user = await repo.user_by_id(conn, user_id)
        except asyncpg.UniqueViolationError as exc:
            raise conflict(exc) from None
        assert user is not None
        self.relay.wake()
        await self.directory.changed(user_id)
        await self.customers.forget(account.number)
        return SignedIn(user, session)
