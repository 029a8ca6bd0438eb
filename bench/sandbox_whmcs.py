"""GetInvoices latency of the WHMCS sandbox: 200 calls over HTTP (httpx), median and p95.

The seed data gets 1,000 extra invoices (client 1) so a page is cut from a realistic list.
Run: .venv/bin/python bench/sandbox_whmcs.py
"""

from __future__ import annotations

import statistics
import time
from datetime import date, timedelta
from decimal import Decimal

import httpx

from sandbox.whmcs import start_whmcs
from sandbox.whmcs.models import Invoice, InvoiceItem
from tools import signals

CREDS = {"identifier": "portal-dev", "secret": "portal-dev-secret", "responsetype": "json"}
CASES = {
    "page of 25 (client 1, default order)": {"userid": "1", "limitnum": "25"},
    "status=Unpaid, page 2": {"userid": "1", "status": "Unpaid", "limitstart": "25"},
    "seed only (client 2, empty list)": {"userid": "2"},
}


def add_invoices(store, count: int) -> None:
    today = date.today()
    for n in range(count):
        invoice_id = store.next_id("invoice")
        store.invoices[invoice_id] = Invoice(
            id=invoice_id,
            userid=1,
            date=today - timedelta(days=n),
            duedate=today - timedelta(days=n - 14),
            status=("Paid", "Unpaid", "Cancelled")[n % 3],
            taxrate=Decimal("10.00"),
            items=[InvoiceItem(store.next_id("item"), "Item", 0, f"Line {n}", Decimal("1000.00"))],
        )


async def main() -> None:
    running = await start_whmcs(port=0, webhook_url="")
    add_invoices(running.store, 1000)
    async with httpx.AsyncClient(base_url=running.url) as client:
        for label, params in CASES.items():
            data = {**CREDS, "action": "GetInvoices", **params}
            for _ in range(20):  # warm-up
                await client.post("/includes/api.php", data=data)
            timings = []
            for _ in range(200):
                started = time.perf_counter()
                response = await client.post("/includes/api.php", data=data)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.json()["result"] == "success"
            timings.sort()
            median, p95 = statistics.median(timings), timings[int(len(timings) * 0.95) - 1]
            rows = response.json()["numreturned"]
            print(f"{label}: rows={rows} median={median:.2f} ms p95={p95:.2f} ms")
    await running.stop()


if __name__ == "__main__":
    signals.run(main())
