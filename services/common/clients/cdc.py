"""Change Data Capture events: Avro decoding and the changed-field bitmaps (no I/O).

A Pub/Sub CDC payload is schemaless Avro (``fastavro.schemaless_reader``) whose first field is the
``ChangeEventHeader``. In Pub/Sub the header's ``changedFields``/``nulledFields``/``diffFields``
are bitmaps, not names: ``"0x1A"`` sets bit *i* for field *i* of the schema (bit 0 is the least
significant bit of the last byte), and ``"<pos>-0x<bits>"`` marks sub-fields of the compound
field at top-level position *pos* (e.g. ``BillingAddress.City``). :class:`EventSchema` decodes
both against the schema.

fastavro is imported with the first schema (the first event of a subscription), not with this
module: a consumer that has subscribed but received nothing yet does not hold it (~1.4 MiB).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

HEADER = "ChangeEventHeader"


@dataclass(frozen=True)
class ChangeEvent:
    entity: str  # "Order"
    change_type: str  # CREATE, UPDATE, DELETE, UNDELETE, GAP_*
    record_ids: tuple[str, ...]
    changed_fields: tuple[str, ...]  # decoded names; compound parts as "BillingAddress.City"
    nulled_fields: tuple[str, ...]
    diff_fields: tuple[str, ...]
    transaction_key: str
    sequence: int
    commit_timestamp: datetime
    commit_number: int
    change_origin: str
    commit_user: str
    fields: dict[str, Any]  # the non-null record fields (on UPDATE: the changed ones)
    replay_id: bytes
    event_id: str = ""
    topic: str = ""

    @property
    def is_gap(self) -> bool:
        """A GAP_* event carries no field values: reload the records (or drop the cache)."""
        return self.change_type.startswith("GAP_")


@dataclass(frozen=True)
class KeepAlive:
    """An empty FetchResponse: nothing new; ``latest_replay_id`` is safe to store."""

    latest_replay_id: bytes
    topic: str = ""


@dataclass
class EventSchema:
    schema_id: str
    schema_json: str
    parsed: Any = field(init=False)
    top: list[str] = field(init=False)  # top-level field names by position
    nested: dict[int, list[str]] = field(init=False)  # position → sub-field names of a record

    def __post_init__(self) -> None:
        import fastavro  # on first use (the module's docstring)

        raw = json.loads(self.schema_json)
        self.parsed = fastavro.parse_schema(raw)
        named: dict[str, dict[str, Any]] = {}
        self.top = [f["name"] for f in raw["fields"]]
        self.nested = {}
        for pos, f in enumerate(raw["fields"]):
            record = _record_of(f["type"], named)
            if record is not None and pos > 0:
                self.nested[pos] = [sub["name"] for sub in record["fields"]]

    def bitmap_names(self, entries: list[str]) -> tuple[str, ...]:
        names: list[str] = []
        for entry in entries:
            pos_text, sep, bits_text = entry.partition("-")
            if sep and pos_text.isascii() and pos_text.isdigit():
                pos = int(pos_text)
                parent, subs = self.top[pos], self.nested.get(pos, [])
                names += [f"{parent}.{subs[i]}" for i in _bits(bits_text) if i < len(subs)]
            else:
                names += [self.top[i] for i in _bits(entry) if i < len(self.top)]
        return tuple(names)

    def decode(self, payload: bytes, replay_id: bytes, event_id: str, topic: str) -> ChangeEvent:
        import fastavro  # imported by __post_init__ already: a lookup in sys.modules

        record = fastavro.schemaless_reader(io.BytesIO(payload), self.parsed, self.parsed)
        if not isinstance(record, dict) or HEADER not in record:
            raise ValueError("not a change event")
        h = record[HEADER]
        return ChangeEvent(
            entity=str(h["entityName"]),
            change_type=str(h["changeType"]),
            record_ids=tuple(h["recordIds"]),
            changed_fields=self.bitmap_names(list(h.get("changedFields") or [])),
            nulled_fields=self.bitmap_names(list(h.get("nulledFields") or [])),
            diff_fields=self.bitmap_names(list(h.get("diffFields") or [])),
            transaction_key=str(h["transactionKey"]),
            sequence=int(h["sequenceNumber"]),
            commit_timestamp=datetime.fromtimestamp(int(h["commitTimestamp"]) / 1000, UTC),
            commit_number=int(h.get("commitNumber") or 0),
            change_origin=str(h.get("changeOrigin") or ""),
            commit_user=str(h.get("commitUser") or ""),
            fields={k: v for k, v in record.items() if k != HEADER and v is not None},
            replay_id=replay_id,
            event_id=event_id,
            topic=topic,
        )


def _bits(text: str) -> list[int]:
    value = int(text, 16)
    return [i for i in range(value.bit_length()) if value >> i & 1]


def _record_of(avro_type: Any, named: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The record schema inside a field type (``["null", {record}]`` or a named reference),
    remembering every named record seen so later references resolve."""
    candidates = avro_type if isinstance(avro_type, list) else [avro_type]
    for t in candidates:
        if isinstance(t, dict) and t.get("type") == "record":
            named[str(t["name"])] = named[str(t["name"]).rsplit(".", 1)[-1]] = t
            for sub in t.get("fields", []):
                _record_of(sub["type"], named)
            return t
        if isinstance(t, str) and t.rsplit(".", 1)[-1] in named:
            return named[t.rsplit(".", 1)[-1]]
    return None
