"""Every fault knob of POST /__sandbox/faults, on REST (simple-salesforce) and on Pub/Sub."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from eventbus.v1 import pubsub_api_pb2 as pb
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

Q = "SELECT Id FROM Account"


async def _arm(http, **body) -> None:
    resp = await http.post("/__sandbox/faults", json=body)
    assert resp.status_code == 200, resp.text


async def test_control_surface_stats_reset_and_validation(sf, http, client, run_sync):
    await run_sync(client.query, Q)
    stats = (await http.get("/__sandbox/stats")).json()["calls"]
    assert stats["query:Account"] == 1 and stats["oauth:token"] == 1
    bad = await http.post("/__sandbox/faults", json={"mode": "explode"})
    assert bad.status_code == 400
    await run_sync(client.Account.create, {"Name": "Temp"})
    assert (await http.post("/__sandbox/reset")).json() == {"reset": True}
    assert (await http.get("/__sandbox/stats")).json() == {"calls": {}}
    assert len(sf.store.live("Account")) == 4


async def test_unavailable_is_503_array_then_recovers(client, run_sync, http):
    await _arm(http, mode="unavailable", count=2)
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError) as err:
            await run_sync(client.query, Q)
        assert err.value.status == 503
        assert err.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert (await run_sync(client.query, Q))["totalSize"] == 4


async def test_fault_limited_to_one_action(client, run_sync, http):
    acc = await run_sync(client.Account.get_by_custom_id, "SF_Account_No__c", "AC-000101")
    await _arm(http, mode="unavailable", action="sobjects:Account:PATCH", seconds=30)
    assert (await run_sync(client.query, Q))["totalSize"] == 4
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError):
            await run_sync(client.Account.update, acc["Id"], {"Phone": "03-0000-0000"})
    await _arm(http, mode="none")
    assert await run_sync(client.Account.update, acc["Id"], {"Phone": "03-0000-0000"}) == 204


async def test_latency(client, run_sync, http):
    await run_sync(client.query, Q)
    await _arm(http, mode="latency", latency_ms=300, action="query:Account")
    started = time.perf_counter()
    await run_sync(client.query, Q)
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    await run_sync(client.query, Q)
    assert time.perf_counter() - started < 0.3  # count defaults to 1


async def test_expire_session_forces_relogin(sf, client, run_sync, http):
    await run_sync(client.query, Q)
    await _arm(http, mode="expire_session")
    assert (await run_sync(client.query, Q))["totalSize"] == 4
    calls = sf.state.control.calls
    assert calls["oauth:token"] == 2 and calls["query:Account"] == 3  # 200, 401, retried 200


async def test_expire_session_for_a_while_exhausts_retries(client, run_sync, http):
    await _arm(http, mode="expire_session", seconds=5, action="query:Account")
    with pytest.raises(SalesforceExpiredSession):
        await run_sync(client.query, Q)


async def test_rate_limit(client, run_sync, http):
    await _arm(http, mode="rate_limit")
    with pytest.raises(SalesforceRefusedRequest) as err:
        await run_sync(client.query, Q)
    assert err.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


async def _order(http, bearer) -> str:
    acc = (
        await http.get(
            "/services/data/v62.0/sobjects/Account/SF_Account_No__c/AC-000104", headers=bearer
        )
    ).json()
    resp = await http.post(
        "/services/data/v62.0/sobjects/Order",
        headers=bearer,
        json={"AccountId": acc["Id"], "EffectiveDate": "2026-11-27"},
    )
    return str(resp.json()["id"])


async def test_duplicate_delivery_redelivers_last_events(http, bearer, pubsub, metadata, h):
    sub = h.Subscription(pubsub, metadata, "/data/OrderChangeEvent")
    try:
        await sub.ready()
        await _arm(http, mode="duplicate_delivery")
        await _order(http, bearer)
        first, again = await sub.events(2)
        await _order(http, bearer)
        (third,) = await sub.events(1)
    finally:
        sub.close()
    assert first.replay_id == again.replay_id and first.event.id == again.event.id
    assert third.replay_id > first.replay_id


async def test_drop_stream_ends_active_subscription(http, pubsub, metadata, h):
    sub = h.Subscription(pubsub, metadata, "/data/OrderChangeEvent")
    await sub.ready()
    await _arm(http, mode="drop_stream")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        for _ in range(5):
            await sub.next()
    sub.close()
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_unavailable_on_pubsub_rpcs(http, pubsub, metadata, h):
    await _arm(http, mode="unavailable", action="pubsub:GetTopic")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pubsub.GetTopic(
            pb.TopicRequest(topic_name="/data/OrderChangeEvent"), metadata=metadata
        )
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    await _arm(http, mode="unavailable", action="pubsub:Subscribe")
    sub = h.Subscription(pubsub, metadata, "/data/OrderChangeEvent")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await sub.next()
    sub.close()
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    info = await pubsub.GetTopic(
        pb.TopicRequest(topic_name="/data/OrderChangeEvent"), metadata=metadata
    )
    assert info.schema_id


async def test_gap_events_replace_normal_ones(http, bearer, pubsub, metadata, h):
    sub = h.Subscription(pubsub, metadata, "/data/OrderChangeEvent")
    try:
        await sub.ready()
        await _arm(http, mode="gap", action="sobjects:Order:PATCH")
        order_id = await _order(http, bearer)  # not a PATCH: normal CREATE
        resp = await http.patch(
            f"/services/data/v62.0/sobjects/Order/{order_id}",
            headers=bearer,
            json={"Status": "Approved"},
        )
        assert resp.status_code == 204
        await _arm(http, mode="gap", overflow=True)
        await http.patch(
            f"/services/data/v62.0/sobjects/Order/{order_id}",
            headers=bearer,
            json={"Status": "Activated"},
        )
        events = await sub.events(3)
    finally:
        sub.close()
    schema = (
        await pubsub.GetSchema(
            pb.SchemaRequest(schema_id=events[0].event.schema_id), metadata=metadata
        )
    ).schema_json
    decoded = [h.decode_event(schema, e) for e in events]
    kinds = [d["ChangeEventHeader"]["changeType"] for d in decoded]
    assert kinds == ["CREATE", "GAP_UPDATE", "GAP_OVERFLOW"]
    gap = decoded[1]
    assert gap["ChangeEventHeader"]["recordIds"] == [order_id]
    assert gap["Status"] is None and gap["ChangeEventHeader"]["changedFields"] == []
    await asyncio.sleep(0)
