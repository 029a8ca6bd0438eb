"""Change Data Capture: Avro schemas per object and encoding of store changes into events."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import fastavro

from .schema import CDC_OBJECTS, OBJECTS, Field
from .store import INTEGRATION_USER_ID, Change
from .validation import parse_datetime

CHANGE_TYPES = [
    "CREATE",
    "UPDATE",
    "DELETE",
    "UNDELETE",
    "GAP_CREATE",
    "GAP_UPDATE",
    "GAP_DELETE",
    "GAP_UNDELETE",
    "GAP_OVERFLOW",
    "SNAPSHOT",
]
_SKIP = frozenset({"Id", "IsDeleted", "SystemModstamp"})
_STR_ARRAY = {"type": "array", "items": "string"}
_AVRO = {
    "boolean": "boolean",
    "double": "double",
    "currency": "double",
    "int": "int",
    # Captured real CDC schemas carry dates and datetimes as plain numbers (days / epoch ms),
    # without Avro logical types.
    "date": "int",
    "datetime": "long",
}
_EPOCH = date(1970, 1, 1)

HEADER_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "ChangeEventHeader",
    "fields": [
        {"name": "entityName", "type": "string"},
        {"name": "recordIds", "type": _STR_ARRAY},
        {
            "name": "changeType",
            "type": {
                "type": "enum",
                "name": "ChangeType",
                "namespace": "com.sforce.eventbus",
                "symbols": CHANGE_TYPES,
            },
        },
        {"name": "changeOrigin", "type": "string"},
        {"name": "transactionKey", "type": "string"},
        {"name": "sequenceNumber", "type": "int"},
        {"name": "commitTimestamp", "type": "long"},
        {"name": "commitNumber", "type": "long"},
        {"name": "commitUser", "type": "string"},
        {"name": "nulledFields", "type": _STR_ARRAY},
        {"name": "diffFields", "type": _STR_ARRAY},
        {"name": "changedFields", "type": _STR_ARRAY},
    ],
}


@dataclass
class Slot:
    """One top-level schema field: a plain field or a compound (address) of several."""

    name: str
    parts: list[tuple[str, Field]]  # (avro sub-field name, object field); one entry when plain
    compound: bool


@dataclass
class CdcSchema:
    sobject: str
    schema_id: str
    schema_json: str
    parsed: Any
    slots: list[Slot]  # schema position i+1 (position 0 is the header)


def _avro_type(f: Field) -> Any:
    return _AVRO.get(f.type, "string")


def _build(sobject: str) -> CdcSchema:
    slots: list[Slot] = []
    by_compound: dict[str, Slot] = {}
    for f in OBJECTS[sobject].fields.values():
        if f.name in _SKIP:
            continue
        if f.compound:
            slot = by_compound.get(f.compound)
            if slot is None:
                slot = by_compound[f.compound] = Slot(f.compound, [], True)
                slots.append(slot)
            slot.parts.append((f.name.removeprefix(f.compound.removesuffix("Address")), f))
        else:
            slots.append(Slot(f.name, [(f.name, f)], False))
    fields: list[dict[str, Any]] = [{"name": "ChangeEventHeader", "type": HEADER_SCHEMA}]
    address_defined = False
    for slot in slots:
        if slot.compound:
            sub = [
                {"name": n, "type": ["null", _avro_type(f)], "default": None} for n, f in slot.parts
            ]
            rec: Any = (
                "Address"
                if address_defined
                else {"type": "record", "name": "Address", "fields": sub}
            )
            address_defined = True
            fields.append({"name": slot.name, "type": ["null", rec], "default": None})
        else:
            f = slot.parts[0][1]
            fields.append(
                {
                    "name": slot.name,
                    "type": ["null", _avro_type(f)],
                    "default": None,
                    "doc": f"{f.name}:{f.type}",
                }
            )
    schema = {
        "type": "record",
        "name": f"{sobject}ChangeEvent",
        "namespace": "com.sforce.eventbus",
        "fields": fields,
    }
    text = json.dumps(schema, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).digest()[:16]
    schema_id = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return CdcSchema(sobject, schema_id, text, fastavro.parse_schema(schema), slots)


SCHEMAS: dict[str, CdcSchema] = {name: _build(name) for name in CDC_OBJECTS}


def _avro_value(f: Field, value: Any) -> Any:
    if value is None:
        return None
    if f.type == "date":
        return (date.fromisoformat(value) - _EPOCH).days
    if f.type == "datetime":
        return int(parse_datetime(value).timestamp() * 1000)
    return value


def _bitmap(bits: set[int]) -> str:
    n = sum(1 << b for b in bits)
    text = f"{n:X}"
    return "0x" + ("0" + text if len(text) % 2 else text)


def _bitmaps(cdc: CdcSchema, names: set[str]) -> list[str]:
    """The top-level bitmap holds the plain fields only; a compound field is named solely by its
    own ``"<pos>-0x<bits>"`` entry (a change of only an address gives ``["0x00", "3-0x02"]``)."""
    top: set[int] = set()
    nested: list[str] = []
    for pos, slot in enumerate(cdc.slots, start=1):
        hit = {i for i, (_, f) in enumerate(slot.parts) if f.name in names}
        if not hit:
            continue
        if slot.compound:
            nested.append(f"{pos}-{_bitmap(hit)}")
        else:
            top.add(pos)
    return [_bitmap(top), *nested] if top or nested else []


def encode(
    change: Change,
    *,
    record_ids: list[str] | None = None,
    transaction_key: str,
    sequence: int,
    commit_number: int,
    change_type: str | None = None,
    origin: str = "com/salesforce/api/rest/59.0",
) -> tuple[CdcSchema, bytes]:
    cdc = SCHEMAS[change.sobject]
    kind = change_type or change.change_type
    changed = set(change.changed) if kind == "UPDATE" else set()
    nulled = set(change.nulled) if kind == "UPDATE" else set()
    record: dict[str, Any] = {
        "ChangeEventHeader": {
            "entityName": change.sobject,
            "recordIds": [] if kind == "GAP_OVERFLOW" else (record_ids or [change.record_id]),
            "changeType": kind,
            "changeOrigin": origin,
            "transactionKey": transaction_key,
            "sequenceNumber": sequence,
            "commitTimestamp": change.commit_ms,
            "commitNumber": commit_number,
            "commitUser": INTEGRATION_USER_ID,
            "nulledFields": _bitmaps(cdc, nulled),
            "diffFields": [],
            "changedFields": _bitmaps(cdc, changed),
        }
    }
    with_values = kind in ("CREATE", "UPDATE", "UNDELETE")
    for slot in cdc.slots:
        vals = {
            sub: _avro_value(f, change.values.get(f.name))
            for sub, f in slot.parts
            if with_values and (kind != "UPDATE" or f.name in changed)
        }
        if slot.compound:
            record[slot.name] = vals if any(v is not None for v in vals.values()) else None
        else:
            record[slot.name] = next(iter(vals.values()), None)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, cdc.parsed, record)
    return cdc, buf.getvalue()


def decode(cdc: CdcSchema, payload: bytes) -> dict[str, Any]:
    record = fastavro.schemaless_reader(io.BytesIO(payload), cdc.parsed, cdc.parsed)
    assert isinstance(record, dict)
    return record
