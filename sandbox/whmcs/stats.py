"""The ``stats`` block of GetClientsDetails: counters are ints and amounts are formatted strings
with the currency (getclientsdetails.md's example)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.whmcs.context import Ctx
from sandbox.whmcs.wire import money

CURRENCY_PREFIX = "¥"
CURRENCY_SUFFIX = " JPY"


def formatted(amount: Decimal) -> str:
    return f"{CURRENCY_PREFIX}{Decimal(money(amount)):,}{CURRENCY_SUFFIX}"


def client_stats(ctx: Ctx, client_id: int) -> dict[str, Any]:
    today = ctx.today()
    invoices = [i for i in ctx.store.invoices.values() if i.userid == client_id]
    due = [i for i in invoices if i.status == "Unpaid"]
    overdue = [i for i in due if i.overdue(today)]
    paid = [i for i in invoices if i.status == "Paid"]
    services = [s for s in ctx.store.services.values() if s.userid == client_id]
    return {
        "numdueinvoices": (len(due)),
        "dueinvoicesbalance": formatted(sum((i.balance for i in due), Decimal(0))),
        "numoverdueinvoices": (len(overdue)),
        "overdueinvoicesbalance": formatted(sum((i.balance for i in overdue), Decimal(0))),
        "numpaidinvoices": (len(paid)),
        "paidinvoicesamount": formatted(sum((i.total for i in paid), Decimal(0))),
        "creditbalance": formatted(Decimal(0)),
        "productsnumactive": sum(1 for s in services if s.status == "Active"),
        "productsnumtotal": len(services),
        "numactivetickets": 0,
        "numtickets": 0,
    }
