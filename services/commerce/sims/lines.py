"""The caller's lines: Salesforce says which lines are theirs, Freebit says what state each is in.

Ownership is decided by Salesforce alone, in the SOQL itself (``AccountId`` = the caller's
account): another customer's MSISDN and one that does not exist take the same path and cost the
same calls, and end in the same NOT_FOUND; a malformed MSISDN never reaches Salesforce. Read live
(no cache): a line's status must show at once after an activation or cancellation, and it is one
PA03-02 call per line. A Freebit outage fails the whole list (UPSTREAM_UNAVAILABLE), never a list
with some lines missing their status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from portal.commerce.v1 import orders_pb2

from services.commerce.peers import Directory
from services.commerce.sims import records
from services.commerce.sims.records import LineRecord
from services.common.clients import FreebitClient, FreebitRejected, SalesforceClient
from services.common.errors import NotFound

NOT_FOUND = "Line not found."


@dataclass(frozen=True)
class SimLines:
    salesforce: SalesforceClient
    freebit: FreebitClient
    directory: Directory

    async def all(self, user_id: str) -> list[orders_pb2.Sim]:
        account_id = await self.directory.sf_account_of(user_id)
        if account_id is None:
            return []
        return await self._joined(await self._records(records.lines_query(account_id)))

    async def owned(self, user_id: str, msisdn: str) -> LineRecord:
        """The caller's line, or NOT_FOUND (identical for someone else's and a missing one)."""
        if not records.is_msisdn(msisdn):
            raise NotFound(NOT_FOUND)
        account_id = await self.directory.sf_account_of(user_id)
        found = await self._records(records.line_query(account_id, msisdn)) if account_id else []
        if not found:
            raise NotFound(NOT_FOUND)
        return found[0]

    async def current(self, record: LineRecord) -> orders_pb2.Sim:
        return records.sim_from(record, await self.detail(record.msisdn))

    async def of_order(self, user_id: str, order_id: str) -> list[orders_pb2.Sim]:
        """The line an order of the caller's provisioned (none before the write-back)."""
        account_id = await self.directory.sf_account_of(user_id)
        if account_id is None:
            return []
        return await self._joined(
            await self._records(records.order_lines_query(account_id, order_id))
        )

    async def detail(self, msisdn: str) -> dict[str, Any]:
        """PA03-02 of a line Salesforce says exists; Freebit not knowing it is a lost line,
        shown without a status rather than failing the customer's whole list."""
        try:
            return await self.freebit.account_detail(msisdn)
        except FreebitRejected as exc:
            if exc.name != "ACCOUNT_NOT_FOUND":
                raise
            return {}

    async def _records(self, query: str) -> list[LineRecord]:
        orders = await self.salesforce.query(query)
        if not orders:
            return []
        ids = [str(o["Id"]) for o in orders]
        plans = records.plans_by_order(await self.salesforce.query(records.plans_query(ids)))
        return records.line_records(orders, plans)

    async def _joined(self, found: Sequence[LineRecord]) -> list[orders_pb2.Sim]:
        details = await asyncio.gather(*(self.detail(r.msisdn) for r in found))
        return [records.sim_from(r, d) for r, d in zip(found, details, strict=True)]
