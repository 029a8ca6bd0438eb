"""The transactional outbox of Salesforce Account updates, and its relay.

Sign-up and link write an ``outbox`` row in the transaction that creates the user and the mapping,
so the Salesforce update can be late but never lost. The relay (a background task in every
identity replica) claims one due row at a time with ``FOR UPDATE SKIP LOCKED`` and holds the row
lock while it PATCHes the Account, then marks the row delivered in the same transaction:

- two replicas never work on the same row (the second skips it);
- a row is marked delivered only after Salesforce answered success; if the process dies between
  the PATCH and the commit the row is delivered again, which is harmless because the PATCH sets
  absolute field values (idempotent): exactly once *in effect*;
- a failure (Salesforce down, timing out, refusing) records the attempt and pushes
  ``next_attempt_at`` out with exponential backoff (capped), and the row is tried again later.

Holding a row lock across one HTTP call is fine at this volume (one row per sign-up); the call is
bounded by the Salesforce client's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog

from services.common.clients.salesforce import SalesforceClient
from services.common.errors import PortalError
from services.identity import repo

log = structlog.get_logger("outbox")

ACCOUNT_UPDATE = "salesforce.account_update"
_CLAIM = """SELECT id, kind, target_id, payload, attempts FROM identity.outbox
            WHERE delivered_at IS NULL AND next_attempt_at <= now()
            ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"""
_DONE = "UPDATE identity.outbox SET delivered_at = now(), attempts = attempts + 1 WHERE id = $1"
_RETRY = """UPDATE identity.outbox SET attempts = attempts + 1, last_error = $2,
                   next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1"""


async def enqueue_account_update(
    conn: repo.Conn, sf_account_id: str, fields: dict[str, Any]
) -> int:
    return await repo.enqueue(conn, ACCOUNT_UPDATE, sf_account_id, fields)


@dataclass
class Relay:
    pool: asyncpg.Pool
    sf: SalesforceClient
    poll_interval: float = 1.0
    backoff_initial: float = 0.5
    backoff_max: float = 60.0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        """Deliver now (called after a commit that enqueued a row)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()  # before draining: a wake during the drain is not lost
            try:
                await self.drain()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("outbox_relay_error", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def drain(self) -> int:
        """Work through every due row; return how many were delivered."""
        delivered = 0
        while (outcome := await self.deliver_one()) is not None:
            delivered += outcome
        return delivered

    def _backoff(self, attempts: int) -> float:
        return float(min(self.backoff_max, self.backoff_initial * 2 ** min(attempts, 20)))

    async def deliver_one(self) -> bool | None:
        """Claim and deliver one due row: True delivered, False failed (retried later), None
        when nothing is due."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_CLAIM)
            if row is None:
                return None
            try:
                await self._send(row["kind"], row["target_id"], json.loads(row["payload"]))
            except PortalError as exc:
                delay = self._backoff(row["attempts"])
                await conn.execute(_RETRY, row["id"], type(exc).__name__, delay)
                log.warning("outbox_delivery_failed", id=row["id"], attempts=row["attempts"] + 1,
                            error=type(exc).__name__, retry_in_s=delay)  # fmt: skip
                return False
            await conn.execute(_DONE, row["id"])
        log.info("outbox_delivered", id=row["id"], kind=row["kind"])
        return True

    async def _send(self, kind: str, target_id: str, payload: dict[str, Any]) -> None:
        if kind != ACCOUNT_UPDATE:
            raise ValueError(f"unknown outbox kind {kind!r}")
        await self.sf.update("Account", target_id, payload)
