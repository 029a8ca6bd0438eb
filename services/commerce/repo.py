"""SQL of the commerce schema (``$n`` parameters only)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeAlias

import asyncpg

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def replay_id(db: Executor, topic: str) -> bytes | None:
    row = await db.fetchval("SELECT replay_id FROM commerce.cdc_replay WHERE topic = $1", topic)
    return bytes(row) if row is not None else None


async def store_replay_id(db: Executor, topic: str, replay: bytes) -> None:
    await db.execute(
        "INSERT INTO commerce.cdc_replay (topic, replay_id) VALUES ($1, $2) "
        "ON CONFLICT (topic) DO UPDATE SET replay_id = EXCLUDED.replay_id, updated_at = now()",
        topic,
        replay,
    )


async def forget_replay_id(db: Executor, topic: str) -> None:
    await db.execute("DELETE FROM commerce.cdc_replay WHERE topic = $1", topic)


async def remember_orders(db: Executor, pairs: Iterable[tuple[str, str]]) -> None:
    """Record ``(order_id, sf_account_id)`` pairs seen in Salesforce (an order never moves)."""
    rows = list(pairs)
    if rows:
        await db.executemany(
            "INSERT INTO commerce.orders (order_id, sf_account_id) VALUES ($1, $2) "
            "ON CONFLICT (order_id) DO NOTHING",
            rows,
        )


async def record_created_order(
    db: Executor, order_id: str, sf_account_id: str, request_key: str
) -> None:
    await db.execute(
        "INSERT INTO commerce.orders (order_id, sf_account_id, request_key) VALUES ($1, $2, $3) "
        "ON CONFLICT (order_id) DO UPDATE SET request_key = EXCLUDED.request_key",
        order_id,
        sf_account_id,
        request_key,
    )


async def order_by_request_key(db: Executor, request_key: str) -> str | None:
    value = await db.fetchval(
        "SELECT order_id FROM commerce.orders WHERE request_key = $1", request_key
    )
    return str(value) if value is not None else None


async def accounts_of_orders(db: Executor, order_ids: Sequence[str]) -> dict[str, str]:
    rows = await db.fetch(
        "SELECT order_id, sf_account_id FROM commerce.orders WHERE order_id = ANY($1::text[])",
        list(order_ids),
    )
    return {r["order_id"]: r["sf_account_id"] for r in rows}
