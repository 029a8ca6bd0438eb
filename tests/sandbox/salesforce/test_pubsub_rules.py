"""Pub/Sub rules the real service enforces: the demand cap, the idle close, refused requests with
their error codes and rpc ids, merged change events, and payloads that a second, independent Avro
implementation (Apache ``avro``, used by Salesforce's own Python example) decodes the same."""

from __future__ import annotations

import io
import json

import avro.io
import avro.schema
import grpc
import pytest
from eventbus.v1 import pubsub_api_pb2 as pb

ORDERS = "/data/OrderChangeEvent"
ENTRIES = "/data/PricebookEntryChangeEvent"
BASE = "/services/data/v62.0"


async def _refusal(sub) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        while True:
            await sub.next()
    sub.close()
    return err.value


def _trailers(err: grpc.aio.AioRpcError) -> dict[str, str]:
    return {k: str(v) for k, v in err.trailing_metadata() or ()}


async def test_demand_is_capped_at_100_across_requests(pubsub, metadata, h):
    sub = h.Subscription(pubsub, metadata, ORDERS, num_requested=1000)
    try:
        first = await sub.next()
        sub.request(50)
        second = await sub.next()
    finally:
        sub.close()
    assert first.pending_num_requested == 100
    assert second.pending_num_requested == 100


@pytest.mark.parametrize("num_requested", [0, -5])
async def test_no_positive_demand_is_refused(pubsub, metadata, h, num_requested):
    err = await _refusal(h.Subscription(pubsub, metadata, ORDERS, num_requested=num_requested))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "num_requested" in (err.details() or "")


async def test_later_request_with_a_zero_count_fails_the_stream(pubsub, metadata, h):
    sub = h.Subscription(pubsub, metadata, ORDERS, num_requested=1)
    await sub.next()
    sub.request(0)
    err = await _refusal(sub)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_later_request_naming_another_topic_is_invalid_argument(pubsub, metadata, h):
    sub = h.Subscription(pubsub, metadata, ORDERS, num_requested=1)
    await sub.next()
    sub.queue.put_nowait(pb.FetchRequest(topic_name=ENTRIES, num_requested=1))
    err = await _refusal(sub)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ENTRIES in (err.details() or "")


async def test_custom_preset_without_replay_id_fails_validation(pubsub, metadata, h):
    err = await _refusal(h.Subscription(pubsub, metadata, ORDERS, preset=pb.CUSTOM))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    trailers = _trailers(err)
    assert trailers["error-code"] == (
        "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.validation.failed"
    )
    # The rpc id is in the trailers and appended to the message after "rpcId: ".
    assert trailers["rpc-id"] and (err.details() or "").endswith(f"rpcId: {trailers['rpc-id']}")


async def test_stream_without_demand_is_closed_by_the_server(sf, http, bearer, pubsub, metadata, h):
    settings = sf.state.settings
    settings.idle_close_s = 0.3
    try:
        sub = h.Subscription(pubsub, metadata, ORDERS, num_requested=1)
        waiting = h.Subscription(pubsub, metadata, ORDERS, num_requested=5)
        await sub.next(), await waiting.next()  # both streams are positioned
        resp = await http.patch(
            f"{BASE}/sobjects/Order/{await _an_order(http, bearer)}",
            headers=bearer,
            json={"Status": "Approved"},
        )
        assert resp.status_code == 204
        (event,) = await sub.events(1)
        ended = await sub.call.read()  # no demand left and none asked for: the server ends it
        status = await sub.call.code()
        # A stream with pending demand stays open: keep-alives keep coming past the idle close.
        kept = [await waiting.next() for _ in range(4)]
    finally:
        settings.idle_close_s = 60.0
        sub.close()
        waiting.close()
    assert event.replay_id and ended is grpc.aio.EOF and status == grpc.StatusCode.OK
    assert all(r.pending_num_requested > 0 for r in kept[1:])


async def _an_order(http, bearer) -> str:
    q = "SELECT Id FROM Order ORDER BY CreatedDate LIMIT 1"
    resp = await http.get(f"{BASE}/query", params={"q": q}, headers=bearer)
    records = resp.json()["records"]
    if records:
        return str(records[0]["Id"])
    acc = await http.get(f"{BASE}/sobjects/Account/SF_Account_No__c/AC-000101", headers=bearer)
    created = await http.post(
        f"{BASE}/sobjects/Order/",
        headers=bearer,
        json={"AccountId": acc.json()["Id"], "EffectiveDate": "2026-11-27", "Status": "Draft"},
    )
    return str(created.json()["id"])


async def _entries(http, bearer, n: int) -> list[str]:
    q = f"SELECT Id FROM PricebookEntry ORDER BY Id LIMIT {n}"
    resp = await http.get(f"{BASE}/query", params={"q": q}, headers=bearer)
    return [str(r["Id"]) for r in resp.json()["records"]]


def _price_changes(ids: list[str], price: float) -> dict:
    return {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "PATCH",
                "url": f"{BASE}/sobjects/PricebookEntry/{rid}",
                "referenceId": f"p{i}",
                "body": {"UnitPrice": price},
            }
            for i, rid in enumerate(ids)
        ],
    }


async def test_identical_changes_in_one_transaction_are_one_event(
    http, bearer, pubsub, metadata, h
):
    ids = await _entries(http, bearer, 3)
    sub = h.Subscription(pubsub, metadata, ENTRIES)
    try:
        await sub.ready()
        resp = await http.post(f"{BASE}/composite", headers=bearer, json=_price_changes(ids, 4321))
        assert resp.status_code == 200
        (event,) = await sub.events(1)
        after = await sub.next()  # nothing else: a keep-alive
    finally:
        sub.close()
    schema = (
        await pubsub.GetSchema(pb.SchemaRequest(schema_id=event.event.schema_id), metadata=metadata)
    ).schema_json
    rec = h.decode_event(schema, event)
    assert sorted(rec["ChangeEventHeader"]["recordIds"]) == sorted(ids)
    assert rec["UnitPrice"] == 4321 and not after.events


async def test_gap_events_of_one_transaction_merge_too(http, bearer, pubsub, metadata, h):
    ids = await _entries(http, bearer, 2)
    sub = h.Subscription(pubsub, metadata, ENTRIES)
    try:
        await sub.ready()
        armed = await http.post("/__sandbox/faults", json={"mode": "gap", "action": "composite"})
        assert armed.status_code == 200
        body = _price_changes(ids, 1)
        body["compositeRequest"][1]["body"] = {"UnitPrice": 2}  # different changes, same gap
        resp = await http.post(f"{BASE}/composite", headers=bearer, json=body)
        assert resp.status_code == 200
        (event,) = await sub.events(1)
    finally:
        sub.close()
    schema = (
        await pubsub.GetSchema(pb.SchemaRequest(schema_id=event.event.schema_id), metadata=metadata)
    ).schema_json
    header = h.decode_event(schema, event)["ChangeEventHeader"]
    assert header["changeType"] == "GAP_UPDATE" and sorted(header["recordIds"]) == sorted(ids)


async def test_apache_avro_decodes_what_fastavro_decodes(http, bearer, pubsub, metadata, h):
    sub = h.Subscription(pubsub, metadata, "/data/AccountChangeEvent")
    try:
        await sub.ready()
        acc = await http.get(f"{BASE}/sobjects/Account/SF_Account_No__c/AC-000101", headers=bearer)
        resp = await http.patch(
            f"{BASE}/sobjects/Account/{acc.json()['Id']}",
            headers=bearer,
            json={"BillingCity": "Naha-shi", "Phone": "098-000-0000"},
        )
        assert resp.status_code == 204
        (event,) = await sub.events(1)
    finally:
        sub.close()
    schema_json = (
        await pubsub.GetSchema(pb.SchemaRequest(schema_id=event.event.schema_id), metadata=metadata)
    ).schema_json
    reader = avro.io.DatumReader(avro.schema.parse(schema_json))
    apache = reader.read(avro.io.BinaryDecoder(io.BytesIO(event.event.payload)))
    assert apache == h.decode_event(schema_json, event)
    header = apache["ChangeEventHeader"]
    assert header["changeType"] == "UPDATE" and apache["BillingAddress"]["City"] == "Naha-shi"
    assert sorted(h.bitmap_fields(schema_json, header["changedFields"])) == [
        "BillingAddress.City", "LastModifiedDate", "Phone",
    ]  # fmt: skip
    # Dates and datetimes are plain numbers in the schema, as in captured real schemas.
    types = {f["name"]: f["type"] for f in json.loads(schema_json)["fields"]}
    assert types["LastModifiedDate"] == ["null", "long"]


async def test_publish_stream_and_managed_subscribe_exist_but_are_unimplemented(
    pubsub, metadata
) -> None:
    async def one(message):
        yield message

    publish = pubsub.PublishStream(one(pb.PublishRequest(topic_name=ORDERS)), metadata=metadata)
    managed = pubsub.ManagedSubscribe(
        one(pb.ManagedFetchRequest(developer_name="x", num_requested=1)), metadata=metadata
    )
    for call in (publish, managed):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call.read()
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_publish_stores_the_payload_without_decoding_it(pubsub, metadata) -> None:
    topic = "/event/Portal_Notification__e"
    info = await pubsub.GetTopic(pb.TopicRequest(topic_name=topic), metadata=metadata)
    event = pb.ProducerEvent(id="e-1", schema_id=info.schema_id, payload=b"\xff not avro")
    wrong = pb.ProducerEvent(id="e-2", schema_id="another-schema", payload=b"")
    resp = await pubsub.Publish(pb.PublishRequest(topic_name=topic, events=[event, wrong]),
                                metadata=metadata)  # fmt: skip
    stored, refused = resp.results
    assert stored.replay_id and not stored.HasField("error")
    assert refused.error.code == pb.PUBLISH and not refused.replay_id
