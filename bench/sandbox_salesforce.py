"""SOQL latency of the Salesforce sandbox: 1,000 Orders, 200 queries over HTTP (httpx).

Run: .venv/bin/python bench/sandbox_salesforce.py
"""

from __future__ import annotations

import statistics
import time

import httpx

from sandbox.salesforce import start_salesforce
from tools import signals

QUERIES = {
    "filtered (~250 rows, parent field, ORDER BY, LIMIT 50)": (
        "SELECT Id, OrderNumber, Status, Account.Name, Portal_Request_Key__c FROM Order "
        "WHERE Status = 'Approved' AND Account.SF_Account_No__c LIKE 'AC-%' "
        "ORDER BY CreatedDate DESC LIMIT 50"
    ),
    "selective (1 row by external id)": (
        "SELECT Id, Status, Activation_Status__c FROM Order "
        "WHERE Portal_Request_Key__c = 'bench-0777'"
    ),
    "full scan (all 1,000 rows returned)": "SELECT Id, OrderNumber, Status FROM Order",
}
STATUSES = ("Draft", "Pending Review", "Approved", "Activated")


async def main() -> None:
    running = await start_salesforce(port=0, pubsub_port=0)
    store = running.store
    account_ids = [r["Id"] for r in store.live("Account")]
    for i in range(1000):
        store.create(
            "Order",
            {
                "AccountId": account_ids[i % len(account_ids)],
                "EffectiveDate": "2026-11-27",
                "Status": STATUSES[i % 4],
                "Portal_Request_Key__c": f"bench-{i:04d}",
            },
        )
    store.drain()
    async with httpx.AsyncClient(base_url=running.rest_url) as client:
        token = (
            await client.post(
                "/services/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "portal-dev",
                    "client_secret": "portal-dev-secret",
                },
            )
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for label, soql in QUERIES.items():
            timings = []
            for _ in range(200):
                started = time.perf_counter()
                resp = await client.get(
                    "/services/data/v62.0/query/", params={"q": soql}, headers=headers
                )
                timings.append((time.perf_counter() - started) * 1000)
                assert resp.status_code == 200, resp.text
            size = resp.json()["totalSize"]
            print(
                f"{label}: totalSize={size} median={statistics.median(timings):.2f} ms "
                f"p95={sorted(timings)[189]:.2f} ms"
            )
    await running.stop()


if __name__ == "__main__":
    signals.run(main())
