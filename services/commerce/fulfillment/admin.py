"""Operator CLI: see and retry fulfillments.

    python -m services.commerce.fulfillment.admin list [--state failed] [--limit 50]
    python -m services.commerce.fulfillment.admin retry <sf_order_id>

Reads ``DATABASE_URL``. ``retry`` resumes a failed order at its failed step (or gives a stuck one
a fresh retry budget) and notifies the workers (``NOTIFY fulfillment_retry``); without a
running worker the order is picked up when one starts.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import asyncpg

from services.commerce.fulfillment import repo
from services.commerce.fulfillment.model import STEPS, Row
from services.common.settings import ServiceSettings

STATES = (*STEPS, "done", "failed", "skipped")
COLUMNS = ("sf_order_id", "state", "failed_step", "error_code", "attempts", "whmcs_order_id",
           "msisdn", "updated_at", "last_error")  # fmt: skip


def format_rows(rows: Sequence[Row]) -> str:
    lines = ["\t".join(COLUMNS)]
    for row in rows:
        values = [getattr(row, c) for c in COLUMNS]
        lines.append("\t".join("" if v is None else str(v) for v in values))
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="services.commerce.fulfillment.admin")
    sub = p.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="fulfillments, most recently changed first")
    listing.add_argument("--state", choices=STATES)
    listing.add_argument("--limit", type=int, default=100)
    retry = sub.add_parser("retry", help="retry a failed or stuck order")
    retry.add_argument("sf_order_id")
    p.add_argument("--database-url", default=None, help="default: DATABASE_URL")
    return p


async def run(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    url = args.database_url or ServiceSettings().database_url.get_secret_value()
    conn = await asyncpg.connect(url)
    try:
        if args.command == "list":
            print(format_rows(await repo.listing(conn, args.state, args.limit)))
            return 0
        row = await repo.retry(conn, args.sf_order_id)
        if row is None:
            print(f"{args.sf_order_id}: nothing to retry (unknown, done or skipped)")
            return 1
        print(f"{row.sf_order_id}: retrying at {row.state}")
        return 0
    finally:
        await conn.close()


def main() -> None:
    sys.exit(asyncio.run(run()))


if __name__ == "__main__":
    main()
