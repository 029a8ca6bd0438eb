"""CDC decoding without a server: Avro payloads and changed-field bitmaps (incl. compound)."""

from __future__ import annotations

import io
import json

import fastavro

from services.common.clients.cdc import EventSchema
from tests.helpers.fresh import run_python

HEADER = {
    "type": "record", "name": "ChangeEventHeader",
    "fields": [
        {"name": "entityName", "type": "string"},
        {"name": "recordIds", "type": {"type": "array", "items": "string"}},
        {"name": "changeType", "type": {"type": "enum", "name": "ChangeType",
                                        "symbols": ["CREATE", "UPDATE", "GAP_UPDATE"]}},
        {"name": "changeOrigin", "type": "string"},
        {"name": "transactionKey", "type": "string"},
        {"name": "sequenceNumber", "type": "int"},
        {"name": "commitTimestamp", "type": "long"},
        {"name": "commitNumber", "type": "long"},
        {"name": "commitUser", "type": "string"},
        {"name": "nulledFields", "type": {"type": "array", "items": "string"}},
        {"name": "diffFields", "type": {"type": "array", "items": "string"}},
        {"name": "changedFields", "type": {"type": "array", "items": "string"}},
    ],
}  # fmt: skip
ADDRESS = {"type": "record", "name": "Address", "namespace": "com.sforce.eventbus", "fields": [
    {"name": "Street", "type": ["null", "string"], "default": None},
    {"name": "City", "type": ["null", "string"], "default": None},
]}  # fmt: skip
SCHEMA = {
    "type": "record", "name": "AccountChangeEvent", "namespace": "com.sforce.eventbus",
    "fields": [
        {"name": "ChangeEventHeader", "type": HEADER},
        {"name": "Name", "type": ["null", "string"], "default": None},           # 1
        {"name": "BillingAddress", "type": ["null", ADDRESS], "default": None},  # 2
        {"name": "ShippingAddress", "type": ["null", "com.sforce.eventbus.Address"],
         "default": None},                                                       # 3
        {"name": "Portal_Status__c", "type": ["null", "string"], "default": None},  # 4
    ],
}  # fmt: skip


def test_bitmaps_decode_to_names() -> None:
    schema = EventSchema("s1", json.dumps(SCHEMA))
    assert schema.bitmap_names(["0x12"]) == ("Name", "Portal_Status__c")  # bits 1 and 4
    assert schema.bitmap_names(["0x04", "2-0x02"]) == ("BillingAddress", "BillingAddress.City")
    assert schema.bitmap_names(["3-0x03"]) == ("ShippingAddress.Street", "ShippingAddress.City")
    assert schema.bitmap_names([]) == ()


def test_decode_payload() -> None:
    schema = EventSchema("s1", json.dumps(SCHEMA))
    record = {
        "ChangeEventHeader": {
            "entityName": "Account", "recordIds": ["001A"], "changeType": "UPDATE",
            "changeOrigin": "", "transactionKey": "t1", "sequenceNumber": 1,
            "commitTimestamp": 1_800_000_000_000, "commitNumber": 7, "commitUser": "005x",
            "nulledFields": ["0x10"], "diffFields": [], "changedFields": ["0x16", "2-0x02"],
        },
        "Name": "New", "BillingAddress": {"Street": None, "City": "Osaka"},
        "ShippingAddress": None, "Portal_Status__c": None,
    }  # fmt: skip
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(SCHEMA), record)
    event = schema.decode(buf.getvalue(), b"\x01", "e1", "/data/AccountChangeEvent")
    assert (event.entity, event.change_type, event.record_ids) == ("Account", "UPDATE", ("001A",))
    assert event.changed_fields == (
        "Name", "BillingAddress", "Portal_Status__c", "BillingAddress.City",
    )  # fmt: skip
    assert event.nulled_fields == ("Portal_Status__c",)
    assert event.fields == {"Name": "New", "BillingAddress": {"Street": None, "City": "Osaka"}}
    assert event.commit_timestamp.year == 2027 and not event.is_gap
    assert (event.sequence, event.transaction_key, event.replay_id) == (1, "t1", b"\x01")


def test_fastavro_is_imported_with_the_first_schema_not_with_the_module() -> None:
    # A process that has imported the Pub/Sub client (commerce at start-up) holds no fastavro
    # until its first event's schema arrives; then it decodes with the real library.
    code = (
        "import io, json, sys\n"
        "from services.common.clients import cdc, pubsub\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'fastavro']\n"
        f"schema = cdc.EventSchema('s1', {json.dumps(json.dumps(SCHEMA))})\n"
        "import fastavro\n"
        "assert fastavro.__file__ and sys.modules['fastavro'] is fastavro\n"
        "assert schema.top[0] == 'ChangeEventHeader'\n"
    )
    run_python(code)
