"""SQL of ``commerce.sim_cancellations`` (``$n`` parameters only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.commerce.repo import Executor


@dataclass(frozen=True)
class Pending:
    msisdn: str
    user_id: str


async def record(
    db: Executor, msisdn: str, user_id: str, account_id: str, run_date: date, case_id: str
) -> None:
    """A scheduled cancellation (a number cancelled and later reissued starts a new row)."""
    await db.execute(
        "INSERT INTO commerce.sim_cancellations "
        "(msisdn, user_id, sf_account_id, run_date, case_id) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (msisdn) DO UPDATE SET user_id = EXCLUDED.user_id, "
        "sf_account_id = EXCLUDED.sf_account_id, run_date = EXCLUDED.run_date, "
        "case_id = EXCLUDED.case_id, requested_at = now(), effective_at = NULL "
        "WHERE commerce.sim_cancellations.effective_at IS NOT NULL "
        "OR commerce.sim_cancellations.case_id <> EXCLUDED.case_id",
        msisdn, user_id, account_id, run_date, case_id,
    )  # fmt: skip


async def pending(db: Executor, limit: int = 500) -> list[Pending]:
    rows = await db.fetch(
        "SELECT msisdn, user_id FROM commerce.sim_cancellations WHERE effective_at IS NULL "
        "ORDER BY requested_at LIMIT $1",
        limit,
    )
    return [Pending(str(r["msisdn"]), str(r["user_id"])) for r in rows]


async def mark_effective(db: Executor, msisdn: str) -> bool:
    """True for the one caller (of all replicas) that recorded the change."""
    row = await db.fetchval(
        "UPDATE commerce.sim_cancellations SET effective_at = now() "
        "WHERE msisdn = $1 AND effective_at IS NULL RETURNING msisdn",
        msisdn,
    )
    return row is not None
