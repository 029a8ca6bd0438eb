"""Which Salesforce account an order belongs to, without a Salesforce call where possible.

An Order UPDATE change event carries only the changed fields, so ``AccountId`` is usually absent.
Orders the portal created or has read are in ``commerce.orders``; the rest are looked up with one
SOQL for the whole event (``queryAll``: a deleted order still has its account) and remembered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg
import structlog

from services.commerce import repo
from services.common.clients.salesforce import SalesforceClient
from services.common.clients.soql import soql
from services.common.outages import is_outage

log = structlog.get_logger("order_accounts")


@dataclass(frozen=True)
class OrderAccounts:
    pool: asyncpg.Pool
    salesforce: SalesforceClient

    async def remember(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Best effort: the rows only spare the consumer a SOQL later, so Postgres being down
        must not fail the read that found the orders (which then answers from Salesforce)."""
        try:
            await repo.remember_orders(self.pool, pairs)
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("orders_not_remembered", error_type=type(exc).__name__)

    async def of_orders(self, order_ids: Sequence[str]) -> dict[str, str]:
        """``order_id -> sf_account_id`` for the orders that exist (or existed)."""
        known = await repo.accounts_of_orders(self.pool, order_ids)
        missing = [o for o in order_ids if o not in known]
        if missing:
            rows = await self.salesforce.query(
                soql("SELECT Id, AccountId FROM Order WHERE Id IN {}", missing),
                include_deleted=True,
            )
            found = {str(r["Id"]): str(r["AccountId"]) for r in rows if r.get("AccountId")}
            await self.remember(found.items())
            known.update(found)
        return known

    async def orders_of_items(self, item_ids: Sequence[str]) -> list[str]:
        """The orders of OrderItems whose events did not carry ``OrderId``."""
        rows = await self.salesforce.query(
            soql("SELECT Id, OrderId FROM OrderItem WHERE Id IN {}", list(item_ids)),
            include_deleted=True,
        )
        return sorted({str(r["OrderId"]) for r in rows if r.get("OrderId")})
