"""Salesforce Accounts by customer number (``SF_Account_No__c``), for sign-up and linking.

The sign-up form asks on every keystroke-ish step, so the lookup is cached for 30 s
(``policy.SIGNUP_CUSTOMER_LOOKUP``, scoped to the one customer number) as a
``CustomerLookupRecord``; unknown numbers are cached too (a record without an account id). A
successful sign-up/link drops the number's entry, and the portal's own mapping in Postgres is
checked as well, so "already registered" never waits for the cache or for the outbox to reach
Salesforce.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from portal.identity.v1.signup_records_pb2 import CustomerLookupRecord

from services.common.cache import Cache, CustomerNumberScope, policy
from services.common.clients.salesforce import SalesforceClient
from services.common.clients.soql import soql
from services.common.errors import (
    AccountAlreadyRegistered,
    CustomerNumberNotFound,
    CustomerNumberRequired,
)
from services.identity import repo

ACTIVE = "Active"
_QUERY = (
    "SELECT Id, Name, SF_Account_No__c, Portal_Status__c FROM Account "
    "WHERE SF_Account_No__c = {} LIMIT 1"
)
# The account's primary Contact: the first one created with it (the one the account was opened
# with; later Contacts are added by staff).
_CONTACT = (
    "SELECT Email FROM Contact WHERE AccountId = {} AND Email != null "
    "ORDER BY CreatedDate ASC LIMIT 1"
)


@dataclass(frozen=True)
class SfAccount:
    id: str
    name: str
    number: str
    portal_status: str


@dataclass(frozen=True)
class Customers:
    pool: asyncpg.Pool
    sf: SalesforceClient
    cache: Cache

    async def _load(self, number: str) -> CustomerLookupRecord:
        records = await self.sf.query(soql(_QUERY, number))
        if not records:
            return CustomerLookupRecord()
        r = records[0]
        return CustomerLookupRecord(account_id=r["Id"], name=r.get("Name") or "",
                                    portal_status=r.get("Portal_Status__c") or "")  # fmt: skip

    async def find(self, number: str, *, cached: bool = True) -> SfAccount | None:
        if cached:
            scope = CustomerNumberScope(number)
            found = await self.cache.get_or_load(
                policy.SIGNUP_CUSTOMER_LOOKUP,
                scope,
                lambda: self._load(number),
                CustomerLookupRecord,
            )
        else:
            found = await self._load(number)
        if not found.account_id:
            return None
        return SfAccount(found.account_id, found.name, number, found.portal_status)

    async def registrable(self, number: str, *, cached: bool = True) -> SfAccount:
        """The account a new portal user may be created for, or the API's error for it."""
        number = number.strip()
        if not number:
            raise CustomerNumberRequired()
        account = await self.find(number, cached=cached)
        if account is None:
            raise CustomerNumberNotFound()
        await self.refuse_registered(account)
        return account

    async def existing(self, number: str, *, cached: bool = True) -> SfAccount:
        """The account with that number, registered or not."""
        number = number.strip()
        if not number:
            raise CustomerNumberRequired()
        account = await self.find(number, cached=cached)
        if account is None:
            raise CustomerNumberNotFound()
        return account

    async def refuse_registered(self, account: SfAccount) -> None:
        if account.portal_status == ACTIVE or await repo.links_of_sf_account(self.pool, account.id):
            raise AccountAlreadyRegistered()

    async def contact_email(self, account: SfAccount) -> str:
        """The e-mail of the account's primary Contact ("" when it has none)."""
        records = await self.sf.query(soql(_CONTACT, account.id))
        return str(records[0].get("Email") or "") if records else ""

    async def is_registered(self, account: SfAccount) -> bool:
        try:
            await self.refuse_registered(account)
        except AccountAlreadyRegistered:
            return True
        return False

    async def forget(self, number: str) -> None:
        await self.cache.invalidate(CustomerNumberScope(number), policy.SIGNUP_LOOKUP)
