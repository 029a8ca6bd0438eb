"""The CDC consumer: catalog and eligibility freshness, replay storage, GAP events, lost replay
positions and one active consumer across replicas."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import grpc
import pytest
from portal.commerce.v1 import catalog_pb2 as pb
from portal.commerce.v1 import catalog_pb2_grpc

from sandbox.salesforce import RunningSalesforce
from services.commerce.cdc.consumer import Consumer
from services.commerce.server import Deps
from services.common.clients import SalesforceClient
from tests.helpers.sandboxes import SandboxControl
from tests.service.commerce.helpers import eventually


def stub(channel: grpc.aio.Channel) -> catalog_pb2_grpc.CatalogServiceStub:
    return catalog_pb2_grpc.CatalogServiceStub(channel)


async def entry_of(sf: SalesforceClient, sku: str) -> str:
    rows = await sf.query(
        "SELECT Id FROM PricebookEntry WHERE Pricebook2.Name = 'Portal Pricebook' "
        f"AND Product2.StockKeepingUnit = '{sku}'"
    )
    return str(rows[0]["Id"])


async def prices(channel: grpc.aio.Channel, md: Any) -> dict[str, str]:
    products = (await stub(channel).ListProducts(pb.ListProductsRequest(), metadata=md)).products
    return {p.sku: p.unit_price for p in products}


async def test_price_change_visible_within_2s_without_polling(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    sf_control: SandboxControl,
) -> None:
    user = await customer_of()
    md = user.metadata()
    assert (await prices(channel, md))["INTERNET-GOLD-HOME-1G"] == "5980.00"
    entry = await entry_of(sf, "INTERNET-GOLD-HOME-1G")
    queries = (await sf_control.calls()).get("query:PricebookEntry", 0)
    for _ in range(10):
        await prices(channel, md)
    await asyncio.sleep(1.0)
    assert (await sf_control.calls()).get("query:PricebookEntry", 0) == queries  # no polling
    await sf.update("PricebookEntry", entry, {"UnitPrice": 6480})
    _, took = await eventually(
        lambda: prices(channel, md), lambda p: p["INTERNET-GOLD-HOME-1G"] == "6480.00"
    )
    assert took < 2.0
    assert (await sf_control.calls()).get("query:PricebookEntry", 0) == queries + 1


async def test_product_hidden_and_renamed(
    channel: grpc.aio.Channel, cdc: Deps, customer_of: Any, sf: SalesforceClient
) -> None:
    user = await customer_of()
    md = user.metadata()
    products = (await stub(channel).ListProducts(pb.ListProductsRequest(), metadata=md)).products
    vpn = next(p for p in products if p.sku == "VPN-STANDARD")
    await sf.update("Product2", vpn.id, {"Name": "VPN Standard (new)"})
    await eventually(lambda: prices(channel, md), lambda _: True)
    await eventually(
        lambda: stub(channel).GetProduct(pb.GetProductRequest(product_id=vpn.id), metadata=md),
        lambda r: r.product.name == "VPN Standard (new)",
    )
    await sf.update("Product2", vpn.id, {"Portal_Catalog__c": False})
    await eventually(lambda: prices(channel, md), lambda p: "VPN-STANDARD" not in p)


async def test_eligibility_change_visible_within_2s(
    channel: grpc.aio.Channel, cdc: Deps, customer_of: Any, sf: SalesforceClient
) -> None:
    user = await customer_of("AC-000104")
    md = user.metadata()

    async def categories() -> list[int]:
        response = await stub(channel).GetEligibility(pb.GetEligibilityRequest(), metadata=md)
        return list(response.eligible_categories)

    assert await categories() == [pb.PRODUCT_CATEGORY_SIM]
    await sf.update("Account", user.account_id, {"Portal_Eligible_Categories__c": "SIM;VPN"})
    _, took = await eventually(
        categories, lambda c: c == [pb.PRODUCT_CATEGORY_SIM, pb.PRODUCT_CATEGORY_VPN]
    )
    assert took < 2.0


async def test_unrelated_account_change_keeps_eligibility_cached(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    sf_control: SandboxControl,
    peers: Any,
) -> None:
    user = await customer_of()
    await stub(channel).GetEligibility(pb.GetEligibilityRequest(), metadata=user.metadata())
    await sf.update("Account", user.account_id, {"Phone": "03-1234-5678"})
    await asyncio.sleep(0.5)
    assert "ListUsersBySalesforceAccount" not in peers.directory.calls


async def test_replay_id_stored_and_resumed(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    db: asyncpg.Connection,
) -> None:
    user = await customer_of()
    md = user.metadata()
    entry = await entry_of(sf, "VPN-STANDARD")
    await prices(channel, md)
    topic = "/data/PricebookEntryChangeEvent"
    query = "SELECT replay_id FROM commerce.cdc_replay WHERE topic = $1"
    before = await db.fetchval(query, topic)
    await sf.update("PricebookEntry", entry, {"UnitPrice": 1200})
    await eventually(lambda: prices(channel, md), lambda p: p["VPN-STANDARD"] == "1200.00")
    await eventually(lambda: db.fetchval(query, topic), lambda r: r and r != before)
    await prices(channel, md)  # cached again after the invalidation
    await cdc.background.stop()  # the consumer is down while the price changes
    await sf.update("PricebookEntry", entry, {"UnitPrice": 1300})
    await asyncio.sleep(0.3)
    assert (await prices(channel, md))["VPN-STANDARD"] == "1200.00"  # cached, nobody listened
    cdc.background.start()  # resumes after the stored id: the missed event arrives
    await eventually(lambda: prices(channel, md), lambda p: p["VPN-STANDARD"] == "1300.00", 5)


async def test_gap_event_drops_the_family(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    sf_control: SandboxControl,
) -> None:
    user = await customer_of("AC-000104")
    md = user.metadata()
    await stub(channel).GetEligibility(pb.GetEligibilityRequest(), metadata=md)
    await sf_control.fault("gap", count=1, action="sobjects:Account:PATCH")
    await sf.update("Account", user.account_id, {"Portal_Eligible_Categories__c": "Internet"})

    async def categories() -> list[int]:
        response = await stub(channel).GetEligibility(pb.GetEligibilityRequest(), metadata=md)
        return list(response.eligible_categories)

    await eventually(categories, lambda c: c == [pb.PRODUCT_CATEGORY_INTERNET])


async def test_lost_replay_position_flushes_and_resubscribes(
    channel: grpc.aio.Channel,
    deps: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    db: asyncpg.Connection,
) -> None:
    user = await customer_of()
    md = user.metadata()
    assert (await prices(channel, md))["VPN-STANDARD"] == "1100.00"
    bogus = (1).to_bytes(8, "big")  # older than anything since the sandbox's last reset
    await db.execute(
        "INSERT INTO commerce.cdc_replay (topic, replay_id) VALUES ($1, $2)",
        "/data/PricebookEntryChangeEvent",
        bogus,
    )
    await sf.update("PricebookEntry", await entry_of(sf, "VPN-STANDARD"), {"UnitPrice": 1500})
    deps.background.start()  # position lost -> catalog dropped -> LATEST
    await eventually(lambda: prices(channel, md), lambda p: p["VPN-STANDARD"] == "1500.00", 5)
    await asyncio.wait_for(deps.background.consumer.ready.wait(), 10)
    await deps.background.stop()


async def test_one_active_consumer_across_replicas(deps: Deps, settings: Any) -> None:
    first, second = deps.background.consumer, _twin(deps, settings)
    tasks = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
    try:
        done, _ = await asyncio.wait(
            [asyncio.create_task(c.leading.wait()) for c in (first, second)],
            timeout=5,
            return_when=asyncio.FIRST_COMPLETED,
        )
        assert done
        await asyncio.sleep(0.6)  # several standby retries
        assert first.leading.is_set() != second.leading.is_set()
        leader = 0 if first.leading.is_set() else 1
        tasks[leader].cancel()
        standby = (first, second)[1 - leader]
        await asyncio.wait_for(standby.leading.wait(), 5)  # takes over once the lock is free
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _twin(deps: Deps, settings: Any) -> Consumer:
    original = deps.background.consumer
    return Consumer(
        settings.database_url.get_secret_value(),
        original._pubsub,
        original._dispatcher,
        standby_retry_s=0.1,
    )


async def test_merged_price_changes_of_one_transaction_all_visible(
    channel: grpc.aio.Channel, cdc: Deps, customer_of: Any, sf: SalesforceClient
) -> None:
    md = (await customer_of()).metadata()
    skus = ["INTERNET-GOLD-HOME-1G", "VPN-STANDARD", "INTERNET-INSTALL-SINGLE"]
    before = await prices(channel, md)
    entries = [await entry_of(sf, sku) for sku in skus]
    await sf.composite(
        [
            {"method": "PATCH", "url": f"sobjects/PricebookEntry/{entry}",
             "referenceId": f"e{i}", "body": {"UnitPrice": 7777}}
            for i, entry in enumerate(entries)
        ]
    )  # fmt: skip
    after, _ = await eventually(
        lambda: prices(channel, md), lambda p: all(p[s] == "7777.00" for s in skus)
    )
    assert all(before[s] != "7777.00" for s in skus)
    assert {s: after[s] for s in skus} == dict.fromkeys(skus, "7777.00")


@pytest.mark.commerce_settings(cdc_batch=1)
async def test_change_after_a_long_idle_still_reaches_the_portal(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    sf_sandbox: RunningSalesforce,
) -> None:
    """The server closes streams without demand after ``idle_close_s`` (60 s in production); with
    one event asked for at a time, a consumer that did not ask again after each event (or did not
    resubscribe when the server ended the stream) would miss the second change."""
    settings = sf_sandbox.state.settings
    settings.idle_close_s = 0.3
    try:
        md = (await customer_of()).metadata()
        entry = await entry_of(sf, "VPN-STANDARD")
        await sf.update("PricebookEntry", entry, {"UnitPrice": 1111})
        await eventually(lambda: prices(channel, md), lambda p: p["VPN-STANDARD"] == "1111.00")
        await asyncio.sleep(1.5)  # several idle-close periods without any change
        await sf.update("PricebookEntry", entry, {"UnitPrice": 2222})
        await eventually(lambda: prices(channel, md), lambda p: p["VPN-STANDARD"] == "2222.00")
    finally:
        settings.idle_close_s = 60.0
