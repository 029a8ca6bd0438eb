"""Pub/Sub API over grpc.aio: CDC for REST writes, replay, flow control, keep-alive, errors."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from eventbus.v1 import pubsub_api_pb2 as pb

ORDERS = "/data/OrderChangeEvent"


async def _new_order(http, bearer, key: str = "p-1") -> str:
    acc = (
        await http.get(
            "/services/data/v62.0/sobjects/Account/SF_Account_No__c/AC-000101", headers=bearer
        )
    ).json()
    resp = await http.post(
        "/services/data/v62.0/sobjects/Order/",
        headers=bearer,
        json={
            "AccountId": acc["Id"],
            "EffectiveDate": "2026-11-27",
            "Status": "Pending Review",
            "Portal_Request_Key__c": key,
        },
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def _patch(http, bearer, sobject: str, record_id: str, body: dict) -> None:
    resp = await http.patch(
        f"/services/data/v62.0/sobjects/{sobject}/{record_id}", headers=bearer, json=body
    )
    assert resp.status_code == 204, resp.text


async def _schema(pubsub, metadata, schema_id: str) -> str:
    info = await pubsub.GetSchema(pb.SchemaRequest(schema_id=schema_id), metadata=metadata)
    return info.schema_json


async def test_rest_write_emits_cdc_event_with_bitmaps(sf, http, bearer, pubsub, metadata, h):
    sub = h.Subscription(pubsub, metadata, ORDERS)
    try:
        await sub.ready()
        order_id = await _new_order(http, bearer)
        await _patch(
            http,
            bearer,
            "Order",
            order_id,
            {"Status": "Approved", "Activation_Error_Code__c": None},
        )
        created, updated = await sub.events(2)
    finally:
        sub.close()
    assert updated.replay_id > created.replay_id and len(created.replay_id) == 8
    schema_json = await _schema(pubsub, metadata, created.event.schema_id)
    c = h.decode_event(schema_json, created)
    assert c["ChangeEventHeader"]["changeType"] == "CREATE"
    assert c["ChangeEventHeader"]["recordIds"] == [order_id]
    assert c["ChangeEventHeader"]["entityName"] == "Order"
    assert c["Status"] == "Pending Review" and c["OrderNumber"] == "00000100"
    u = h.decode_event(schema_json, updated)
    header = u["ChangeEventHeader"]
    assert header["changeType"] == "UPDATE"
    assert sorted(h.bitmap_fields(schema_json, header["changedFields"])) == [
        "LastModifiedDate",
        "Status",
    ]
    assert header["changedFields"][0].startswith("0x")
    assert u["Status"] == "Approved"
    assert u["AccountId"] is None and u["OrderNumber"] is None  # unchanged -> null
    assert header["commitTimestamp"] > 1_600_000_000_000
    assert sf.state.control.calls["pubsub:Subscribe"] == 1


async def test_compound_address_change_uses_nested_bitmap(http, bearer, pubsub, metadata, h):
    sub = h.Subscription(pubsub, metadata, "/data/AccountChangeEvent")
    try:
        await sub.ready()
        acc = (
            await http.get(
                "/services/data/v62.0/sobjects/Account/SF_Account_No__c/AC-000102", headers=bearer
            )
        ).json()
        await _patch(
            http, bearer, "Account", acc["Id"], {"BillingCity": "Sakai-shi", "Phone": None}
        )
        (event,) = await sub.events(1)
    finally:
        sub.close()
    schema_json = await _schema(pubsub, metadata, event.event.schema_id)
    rec = h.decode_event(schema_json, event)
    header = rec["ChangeEventHeader"]
    changed = h.bitmap_fields(schema_json, header["changedFields"])
    # The compound field is named by its nested bitmap only, never by a top-level bit.
    assert sorted(changed) == ["BillingAddress.City", "LastModifiedDate"]
    assert any("-" in entry for entry in header["changedFields"])
    assert rec["BillingAddress"]["City"] == "Sakai-shi"
    assert {"StateCode", "CountryCode", "Latitude", "Longitude", "GeocodeAccuracy"} <= set(
        rec["BillingAddress"]
    )
    # Phone was already null in the seed, so nothing was nulled
    assert header["nulledFields"] == []


async def test_composite_events_share_transaction_key(http, bearer, pubsub, metadata, h):
    sub = h.Subscription(pubsub, metadata, "/data/ChangeEvents")
    try:
        await sub.ready()
        acc = (
            await http.get(
                "/services/data/v62.0/sobjects/Account/SF_Account_No__c/AC-000101", headers=bearer
            )
        ).json()
        base = "/services/data/v62.0/sobjects"
        resp = await http.post(
            "/services/data/v62.0/composite",
            headers=bearer,
            json={
                "allOrNone": True,
                "compositeRequest": [
                    {
                        "method": "POST",
                        "url": f"{base}/Case",
                        "referenceId": "c1",
                        "body": {
                            "AccountId": acc["Id"],
                            "Subject": "a",
                            "Origin": "Portal Website",
                        },
                    },
                    {
                        "method": "PATCH",
                        "url": f"{base}/Case/@{{c1.id}}",
                        "referenceId": "c2",
                        "body": {"Priority": "High"},
                    },
                ],
            },
        )
        assert [r["httpStatusCode"] for r in resp.json()["compositeResponse"]] == [201, 204]
        events = await sub.events(2)
    finally:
        sub.close()
    schema_json = await _schema(pubsub, metadata, events[0].event.schema_id)
    headers = [h.decode_event(schema_json, e)["ChangeEventHeader"] for e in events]
    assert headers[0]["transactionKey"] == headers[1]["transactionKey"]
    assert [x["sequenceNumber"] for x in headers] == [1, 2]
    assert [x["changeType"] for x in headers] == ["CREATE", "UPDATE"]


async def test_resume_from_custom_replay_id_without_loss_or_repeat(
    http, bearer, pubsub, metadata, h
):
    order_id = await _new_order(http, bearer)
    for status in ("Approved", "Activated", "Pending Review", "Approved"):
        await _patch(http, bearer, "Order", order_id, {"Status": status})
    first = h.Subscription(pubsub, metadata, ORDERS, num_requested=2, preset=pb.EARLIEST)
    try:
        got = await first.events(2)
    finally:
        first.close()
    stored = got[-1].replay_id  # persisted after processing
    second = h.Subscription(
        pubsub, metadata, ORDERS, num_requested=10, preset=pb.CUSTOM, replay_id=stored
    )
    try:
        rest = await second.events(3)
        extra = await second.next(1.0)  # only a keep-alive may follow
    finally:
        second.close()
    assert not extra.events and extra.latest_replay_id == rest[-1].replay_id
    ids = [e.replay_id for e in got + rest]
    assert ids == sorted(ids) and len(set(ids)) == 5


async def test_flow_control_never_exceeds_requested(http, bearer, pubsub, metadata, h):
    order_id = await _new_order(http, bearer)
    for status in ("Approved", "Activated", "Pending Review", "Approved"):
        await _patch(http, bearer, "Order", order_id, {"Status": status})
    sub = h.Subscription(pubsub, metadata, ORDERS, num_requested=2, preset=pb.EARLIEST)
    try:
        first = await sub.events(2)
        sub.request(1)
        answer = await sub.next()  # the demand was used up: the next answer is the asked-for one
        sub.request(5)
        rest = await sub.events(2)
    finally:
        sub.close()
    assert len(first) == 2
    assert len(answer.events) == 1 and answer.pending_num_requested == 0
    assert answer.events[0].replay_id > first[-1].replay_id
    assert rest[-1].replay_id > answer.events[0].replay_id


async def test_keepalive_when_idle(sf, pubsub, metadata, h):
    sub = h.Subscription(pubsub, metadata, ORDERS)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        first = await sub.next(3.0)
        second = await sub.next(3.0)
        elapsed = loop.time() - started
    finally:
        sub.close()
    assert not first.events and not second.events
    assert len(first.latest_replay_id) == 8 and first.rpc_id
    assert 0.8 <= elapsed < 2.5  # keepalive_s=0.5 in the fixture
    assert first.pending_num_requested == 10


async def test_corrupted_or_expired_replay_id(sf, http, bearer, pubsub, metadata, h):
    for bad in (b"\x00" * 8, b"junk", b"\xff" * 8):
        sub = h.Subscription(pubsub, metadata, ORDERS, preset=pb.CUSTOM, replay_id=bad)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await sub.next()
        sub.close()
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        trailers = dict(err.value.trailing_metadata() or ())
        assert trailers["error-code"] == (
            "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
        )
    await _new_order(http, bearer)
    old = sf.state.bus.events[0].replay
    sf.state.bus.retention_s = 0.05
    try:
        await asyncio.sleep(0.1)
        await _new_order(http, bearer, "p-2")  # publishing prunes expired events
        sub = h.Subscription(
            pubsub, metadata, ORDERS, preset=pb.CUSTOM, replay_id=(old - 1).to_bytes(8, "big")
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await sub.next()
        sub.close()
    finally:
        sf.state.bus.retention_s = 72 * 3600
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_bad_token_is_unauthenticated_with_trailer(sf, pubsub, metadata, h):
    bad = tuple((k, "00D!nope" if k == "accesstoken" else v) for k, v in metadata)
    sub = h.Subscription(pubsub, bad, ORDERS)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await sub.next()
    sub.close()
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert dict(err.value.trailing_metadata())["error-code"] == (
        "sfdc.platform.eventbus.grpc.service.auth.error"
    )
    with pytest.raises(grpc.aio.AioRpcError) as err2:
        await pubsub.GetTopic(pb.TopicRequest(topic_name=ORDERS), metadata=bad)
    assert err2.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_get_topic_and_publish_platform_event(sf, pubsub, metadata, h):
    info = await pubsub.GetTopic(pb.TopicRequest(topic_name=ORDERS), metadata=metadata)
    assert info.can_subscribe and not info.can_publish and info.schema_id
    assert info.tenant_guid == sf.state.settings.tenant_id
    schema = await _schema(pubsub, metadata, info.schema_id)
    assert '"name":"OrderChangeEvent"' in schema
    topic = "/event/Portal_Notification__e"
    pe = await pubsub.GetTopic(pb.TopicRequest(topic_name=topic), metadata=metadata)
    assert pe.can_publish
    import io
    import json

    import fastavro

    parsed = fastavro.parse_schema(json.loads(await _schema(pubsub, metadata, pe.schema_id)))
    buf = io.BytesIO()
    fastavro.schemaless_writer(
        buf,
        parsed,
        {"CreatedDate": 1, "CreatedById": "005", "Account_Id__c": None, "Message__c": "hi"},
    )
    sub = h.Subscription(pubsub, metadata, topic)
    try:
        await sub.ready()
        resp = await pubsub.Publish(
            pb.PublishRequest(
                topic_name=topic,
                events=[
                    pb.ProducerEvent(id="e1", schema_id=pe.schema_id, payload=buf.getvalue()),
                    pb.ProducerEvent(id="e2", schema_id="wrong", payload=b""),
                ],
            ),
            metadata=metadata,
        )
        (event,) = await sub.events(1)
    finally:
        sub.close()
    assert resp.results[0].replay_id == event.replay_id and not resp.results[0].HasField("error")
    assert resp.results[1].error.code == pb.PUBLISH
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pubsub.GetTopic(
            pb.TopicRequest(topic_name="/data/NopeChangeEvent"), metadata=metadata
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
