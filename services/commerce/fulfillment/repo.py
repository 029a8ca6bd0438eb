"""SQL of the fulfillment state machine (``commerce.fulfillments``), the workers' claims on its
rows, their wake-up notification and the MSISDN sequence. Every state change is one statement
guarded by the expected current state, so a stale worker can never move a row it no longer owns
backwards."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from services.commerce.fulfillment.model import FAILED, FINAL, Row

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool
RETRY_CHANNEL = "fulfillment_retry"

_REQUEST = """
INSERT INTO commerce.fulfillments AS f (sf_order_id) VALUES ($1)
ON CONFLICT (sf_order_id) DO UPDATE SET
    state = CASE
        WHEN f.state = 'skipped' THEN 'activating'
        WHEN {failed_revived} THEN f.failed_step
        ELSE f.state END,
    attempts = CASE WHEN {revived} THEN 0 ELSE f.attempts END,
    retry_since = CASE WHEN {revived} THEN NULL ELSE f.retry_since END,
    updated_at = now()
RETURNING f.*"""
_FAILED_REVIVED = "(f.state = 'failed' AND ($2 OR f.failed_at < $3))"
# ``request`` for an array of order ids ($1) and their requested_at ($2, same positions).
_FAILED_REVIVED_MANY = (
    "(f.state = 'failed' AND "
    "f.failed_at < ($2::timestamptz[])[array_position($1::text[], f.sf_order_id)])"
)
_REQUEST_MANY = _REQUEST.replace("VALUES ($1)", "SELECT unnest($1::text[])").format(
    failed_revived=_FAILED_REVIVED_MANY,
    revived=f"(f.state = 'skipped' OR {_FAILED_REVIVED_MANY})",
)
_REQUEST = _REQUEST.format(
    failed_revived=_FAILED_REVIVED, revived=f"(f.state = 'skipped' OR {_FAILED_REVIVED})"
)


async def request(
    conn: Conn, order_id: str, *, reset: bool = False, requested_at: datetime | None = None
) -> Row:
    """Ask for an order to be fulfilled: a new row, or a failed one revived when staff reset it
    (``reset``) or re-approved it after the failure (``requested_at`` later than ``failed_at``).
    A done or running row is returned as it is."""
    record = await conn.fetchrow(_REQUEST, order_id, reset, requested_at)
    assert record is not None
    return Row.of(record)


async def request_many(conn: Conn, requests: dict[str, datetime | None]) -> list[Row]:
    """``request`` (without ``reset``) for several orders in one statement: ``order id ->
    requested_at``. The rows in no particular order (the rows are locked in id order)."""
    if not requests:
        return []
    order_ids = sorted(requests)
    records = await conn.fetch(_REQUEST_MANY, order_ids, [requests[o] for o in order_ids])
    return [Row.of(record) for record in records]


async def get(conn: Conn, order_id: str) -> Row | None:
    record = await conn.fetchrow(
        "SELECT * FROM commerce.fulfillments WHERE sf_order_id = $1", order_id
    )
    return None if record is None else Row.of(record)


async def advance(conn: Conn, order_id: str, current: str, to: str, **fields: Any) -> Row | None:
    """Move ``current`` → ``to`` (and set ``fields``); the row as it is now, or None when it is
    no longer at ``current``."""
    names = list(fields)
    sets = "".join(f", {name} = ${i + 4}" for i, name in enumerate(names))
    done = ", done_at = now()" if to == "done" else ""
    record = await conn.fetchrow(
        "UPDATE commerce.fulfillments SET state = $3, attempts = 0, retry_since = NULL, "  # noqa: S608
        f"last_error = NULL, error_code = NULL, updated_at = now(){done}{sets} "
        "WHERE sf_order_id = $1 AND state = $2 RETURNING *",
        order_id, current, to, *(fields[n] for n in names),
    )  # fmt: skip
    return None if record is None else Row.of(record)


async def set_fields(conn: Conn, order_id: str, current: str, **fields: Any) -> None:
    """Record facts of the current step (e.g. the WHMCS client) without moving on."""
    names = list(fields)
    sets = ", ".join(f"{name} = ${i + 3}" for i, name in enumerate(names))
    await conn.execute(
        f"UPDATE commerce.fulfillments SET {sets}, updated_at = now() "  # noqa: S608
        "WHERE sf_order_id = $1 AND state = $2",
        order_id, current, *(fields[n] for n in names),
    )  # fmt: skip


async def add_order_attempted(
    conn: Conn, order_id: str, client_id: int, claimant: str | None = None
) -> bool:
    """Committed before each AddOrder of the ORDERING step: from here on an attempt of the step
    may have placed the WHMCS order, so the next one looks it up by note first. False when the
    row is no longer at ``ordering``, or (with ``claimant``) no longer claimed by that worker
    under a live lease: then nothing may be placed."""
    result = await conn.execute(
        "UPDATE commerce.fulfillments SET add_order_at = now(), whmcs_client_id = $2, "
        "updated_at = now() WHERE sf_order_id = $1 AND state = 'ordering' "
        "AND ($3::text IS NULL OR (claimed_by = $3 AND lease_until > now()))",
        order_id, client_id, claimant,
    )  # fmt: skip
    return str(result).endswith(" 1")


async def note_transient(
    conn: Conn, order_id: str, current: str, error: str
) -> tuple[Row, float] | None:
    """One more failed attempt of ``current`` because an upstream was unavailable; returns the
    row and for how many seconds this step has been failing."""
    record = await conn.fetchrow(
        "UPDATE commerce.fulfillments SET attempts = attempts + 1, last_error = $3, "
        "retry_since = coalesce(retry_since, now()), updated_at = now() "
        "WHERE sf_order_id = $1 AND state = $2 "
        "RETURNING *, extract(epoch FROM now() - retry_since)::float8 AS stuck_for",
        order_id, current, error,
    )  # fmt: skip
    return None if record is None else (Row.of(record), float(record["stuck_for"]))


async def fail(conn: Conn, order_id: str, current: str, code: str, message: str) -> bool:
    result = await conn.execute(
        "UPDATE commerce.fulfillments SET state = 'failed', failed_step = $2, error_code = $3, "
        "last_error = $4, failed_at = now(), updated_at = now() "
        "WHERE sf_order_id = $1 AND state = $2",
        order_id, current, code, message,
    )  # fmt: skip
    return str(result).endswith(" 1")


async def skip(conn: Conn, order_id: str, current: str, why: str) -> None:
    await conn.execute(
        "UPDATE commerce.fulfillments SET state = 'skipped', last_error = $3, updated_at = now() "
        "WHERE sf_order_id = $1 AND state = $2",
        order_id, current, why,
    )  # fmt: skip


async def open_orders(conn: Conn) -> list[str]:
    """Orders with work left (neither done, failed nor skipped), oldest first."""
    rows = await conn.fetch(
        "SELECT sf_order_id FROM commerce.fulfillments WHERE state <> ALL($1::text[]) "
        "ORDER BY created_at",
        sorted(FINAL),
    )
    return [r["sf_order_id"] for r in rows]


async def listing(conn: Conn, state: str | None = None, limit: int = 100) -> list[Row]:
    rows = await conn.fetch(
        "SELECT * FROM commerce.fulfillments WHERE ($1::text IS NULL OR state = $1) "
        "ORDER BY updated_at DESC LIMIT $2",
        state, limit,
    )  # fmt: skip
    return [Row.of(r) for r in rows]


async def retry(conn: Conn, order_id: str) -> Row | None:
    """Operator retry: a failed order resumes at its failed step, a running one gets a fresh
    transient-retry budget. Notifies the workers."""
    record = await conn.fetchrow(
        "UPDATE commerce.fulfillments SET state = CASE WHEN state = $2 THEN failed_step "
        "ELSE state END, attempts = 0, retry_since = NULL, updated_at = now() "
        "WHERE sf_order_id = $1 AND state NOT IN ('done', 'skipped') RETURNING *",
        order_id, FAILED,
    )  # fmt: skip
    if record is not None:
        await conn.execute("SELECT pg_notify($1, $2)", RETRY_CHANNEL, order_id)
    return None if record is None else Row.of(record)


async def allocate_msisdn(conn: Conn, order_id: str, prefix: str) -> tuple[str, bool]:
    """The order's MSISDN, drawn once from ``msisdn_seq`` and kept in the row; True when this
    call drew it (False: an earlier attempt had, and may have registered the line)."""
    drawn = await conn.fetchval(
        "UPDATE commerce.fulfillments SET msisdn = "
        "$2 || lpad(nextval('commerce.msisdn_seq')::text, 8, '0'), updated_at = now() "
        "WHERE sf_order_id = $1 AND msisdn IS NULL RETURNING msisdn",
        order_id, prefix,
    )  # fmt: skip
    if drawn is not None:
        return str(drawn), True
    kept = await conn.fetchval(
        "SELECT msisdn FROM commerce.fulfillments WHERE sf_order_id = $1", order_id
    )
    return str(kept), False


async def notify(conn: Conn, order_id: str) -> None:
    """Wake the workers (on every replica) to claim open rows; the payload (an order id, or
    empty) only tells which handing woke them."""
    await conn.execute("SELECT pg_notify($1, $2)", RETRY_CHANNEL, order_id)


_CLAIM = """
UPDATE commerce.fulfillments SET claimed_by = $1, lease_until = now() + $2 * interval '1 second'
WHERE sf_order_id IN (
    SELECT sf_order_id FROM commerce.fulfillments
    WHERE state <> ALL($3::text[]) AND (lease_until IS NULL OR lease_until < now())
    ORDER BY created_at LIMIT $4 FOR UPDATE SKIP LOCKED)
RETURNING sf_order_id, created_at"""


async def claim(conn: Conn, worker: str, n: int, lease_s: float) -> list[str]:
    """Up to ``n`` open rows nobody holds (unclaimed, or their lease expired), oldest first, now
    ``worker``'s for ``lease_s``. Rows another transaction has locked (being claimed or moved
    right now) are skipped, so concurrent claims never wait for each other nor share a row."""
    rows = await conn.fetch(_CLAIM, worker, lease_s, sorted(FINAL), n)
    return [r["sf_order_id"] for r in sorted(rows, key=lambda r: r["created_at"])]


async def renew(conn: Conn, worker: str, order_ids: list[str], lease_s: float) -> list[str]:
    """Extend ``worker``'s lease on these rows; the ids it still held."""
    rows = await conn.fetch(
        "UPDATE commerce.fulfillments SET lease_until = now() + $3 * interval '1 second' "
        "WHERE sf_order_id = ANY($2::text[]) AND claimed_by = $1 RETURNING sf_order_id",
        worker, order_ids, lease_s,
    )  # fmt: skip
    return [r["sf_order_id"] for r in rows]


async def still_claimed(conn: Conn, order_id: str, worker: str) -> bool:
    """Whether ``worker`` holds the row under a live lease."""
    held = await conn.fetchval(
        "SELECT EXISTS (SELECT FROM commerce.fulfillments WHERE sf_order_id = $1 "
        "AND claimed_by = $2 AND lease_until > now())",
        order_id, worker,
    )  # fmt: skip
    return bool(held)


async def release(conn: Conn, worker: str, order_id: str) -> str | None:
    """Give ``worker``'s claim on the row up; the row's state (None: it was not ``worker``'s)."""
    state = await conn.fetchval(
        "UPDATE commerce.fulfillments SET claimed_by = NULL, lease_until = NULL "
        "WHERE sf_order_id = $1 AND claimed_by = $2 RETURNING state",
        order_id, worker,
    )  # fmt: skip
    return None if state is None else str(state)


async def revive(conn: Conn, order_id: str) -> Row | None:
    """A failed order whose activation staff reset: back to its failed step (None: no row)."""
    record = await conn.fetchrow(
        "UPDATE commerce.fulfillments SET state = failed_step, attempts = 0, retry_since = NULL, "
        "updated_at = now() WHERE sf_order_id = $1 AND state = 'failed' RETURNING *",
        order_id,
    )
    return Row.of(record) if record is not None else await get(conn, order_id)
