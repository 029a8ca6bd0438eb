"""In-memory org state: records per object, auto-numbers, change log for CDC."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import SfError, not_found
from .ids import IdFactory, normalize_id, object_for_id
from .schema import OBJECTS, SObject
from .validation import check_required, check_rules, clean_body, sf_datetime

INTEGRATION_USER_ID = "005Dp000001PortIAC"  # 15-char id + its case-safe suffix

Record = dict[str, Any]


@dataclass
class Change:
    sobject: str
    change_type: str  # CREATE UPDATE DELETE UNDELETE
    record_id: str
    values: Record  # the record after the change (before, for DELETE)
    changed: list[str] = field(default_factory=list)
    nulled: list[str] = field(default_factory=list)
    commit_ms: int = 0


@dataclass(frozen=True)
class Savepoint:
    journal: int
    autonumbers: dict[str, int]
    changes: int


class Store:
    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.ids = IdFactory()
        self.records: dict[str, dict[str, Record]] = {name: {} for name in OBJECTS}
        self.autonumbers: dict[str, int] = {}
        self.changes: list[Change] = []
        self._undo: list[tuple[str, str, Record | None]] = []
        self._open = 0

    # -- transactions -------------------------------------------------------------------------
    # A savepoint is a position in an undo journal: while one is open, every write first records
    # the prior state of the record it touches (a copy, or None for a new record), so a rollback
    # restores only what the transaction changed (not a copy of the whole org per request).
    def savepoint(self) -> Savepoint:
        self._open += 1
        return Savepoint(len(self._undo), dict(self.autonumbers), len(self.changes))

    def release(self, sp: Savepoint) -> None:
        """End a savepoint (its changes stay; an enclosing savepoint can still undo them)."""
        self._open -= 1
        if self._open == 0:
            self._undo.clear()

    def rollback(self, sp: Savepoint) -> None:
        """Undo every write since ``sp`` (and end it)."""
        while len(self._undo) > sp.journal:
            sobject, record_id, prior = self._undo.pop()
            if prior is None:
                self.records[sobject].pop(record_id, None)
            else:
                self.records[sobject][record_id] = prior
        self.autonumbers = sp.autonumbers
        del self.changes[sp.changes :]
        self.release(sp)

    def _touch(self, sobject: str, record_id: str) -> None:
        if self._open:
            current = self.records[sobject].get(record_id)
            self._undo.append((sobject, record_id, dict(current) if current else None))

    def drain(self) -> list[Change]:
        out, self.changes = self.changes, []
        return out

    # -- reads --------------------------------------------------------------------------------
    def obj(self, name: str) -> SObject:
        for obj_name, obj in OBJECTS.items():
            if obj_name.lower() == name.lower():
                return obj
        raise SfError(404, "NOT_FOUND", f"The requested resource does not exist: {name}")

    def get(self, sobject: str, record_id: str) -> Record:
        norm = normalize_id(record_id)
        if norm is None:
            raise SfError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {record_id}",
            )
        rec = self.records[sobject].get(norm)
        if rec is None:
            raise not_found()
        if rec["IsDeleted"]:
            raise SfError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        return rec

    def find_external(self, sobject: str, field_name: str, value: str) -> list[Record]:
        low = value.casefold()
        return [
            r
            for r in self.records[sobject].values()
            if not r["IsDeleted"]
            and isinstance(r.get(field_name), str)
            and r[field_name].casefold() == low
        ]

    def live(self, sobject: str) -> list[Record]:
        return [r for r in self.records[sobject].values() if not r["IsDeleted"]]

    # -- writes -------------------------------------------------------------------------------
    def _now(self) -> tuple[str, int]:
        now = self.clock()
        return sf_datetime(now), int(now.timestamp() * 1000)

    def create(self, sobject: str, body: Any) -> str:
        obj = OBJECTS[sobject]
        values = clean_body(obj, body, creating=True)
        stamp, ms = self._now()
        rec: Record = {name: f.default for name, f in obj.fields.items()}
        rec.update({k: v for k, v in values.items() if v is not None})
        new_id = self.ids.new(sobject)
        rec.update(
            Id=new_id,
            IsDeleted=False,
            CreatedDate=stamp,
            LastModifiedDate=stamp,
            SystemModstamp=stamp,
            CreatedById=INTEGRATION_USER_ID,
            LastModifiedById=INTEGRATION_USER_ID,
        )
        if obj.autonumber:
            fname, width, start = obj.autonumber
            n = self.autonumbers.get(sobject, start)
            self.autonumbers[sobject] = n + 1
            rec[fname] = str(n).zfill(int(width))
        self._integrity(obj, rec, None)
        self._touch(sobject, new_id)
        self.records[sobject][new_id] = rec
        self.changes.append(Change(sobject, "CREATE", new_id, dict(rec), commit_ms=ms))
        self._after_write(obj, rec)
        return new_id

    def update(self, sobject: str, record_id: str, body: Any) -> None:
        obj = OBJECTS[sobject]
        current = self.get(sobject, record_id)
        values = clean_body(obj, body, creating=False)
        rec = dict(current)
        rec.update(values)
        self._integrity(obj, rec, current["Id"])
        changed = [k for k, v in values.items() if current.get(k) != v]
        stamp, ms = self._now()
        rec.update(LastModifiedDate=stamp, SystemModstamp=stamp)
        self._touch(sobject, rec["Id"])
        self.records[sobject][rec["Id"]] = rec
        nulled = [k for k in changed if rec.get(k) is None]
        self.changes.append(
            Change(
                sobject,
                "UPDATE",
                rec["Id"],
                dict(rec),
                [*changed, "LastModifiedDate"],
                nulled,
                commit_ms=ms,
            )
        )
        self._after_write(obj, rec)

    def delete(self, sobject: str, record_id: str) -> None:
        rec = self.get(sobject, record_id)
        for child_name, child in OBJECTS.items():
            for f in child.fields.values():
                if f.reference_to != sobject:
                    continue
                for other in self.live(child_name):
                    if other.get(f.name) != rec["Id"]:
                        continue
                    if not f.cascade:
                        raise SfError(
                            400,
                            "DELETE_FAILED",
                            f"Your attempt to delete {rec['Id']} could not be completed because "
                            f"it is associated with the following {child_name}s.: {other['Id']}",
                        )
                    self.delete(child_name, other["Id"])
        _, ms = self._now()
        self._touch(sobject, rec["Id"])
        rec["IsDeleted"] = True
        self.changes.append(Change(sobject, "DELETE", rec["Id"], dict(rec), commit_ms=ms))
        self._after_write(OBJECTS[sobject], rec)

    def upsert(self, sobject: str, field_name: str, value: str, body: Any) -> tuple[str, bool]:
        matches = self.find_external(sobject, field_name, value)
        if len(matches) > 1:
            raise SfError(300, "MULTIPLE_CHOICES", "More than one record found", [])
        data = dict(body) if isinstance(body, dict) else body
        if isinstance(data, dict):
            data.pop(field_name, None)
        if matches:
            self.update(sobject, matches[0]["Id"], data)
            return matches[0]["Id"], False
        if isinstance(data, dict):
            data[field_name] = value
        return self.create(sobject, data), True

    # -- integrity ----------------------------------------------------------------------------
    def _integrity(self, obj: SObject, rec: Record, self_id: str | None) -> None:
        check_required(obj, rec)
        for f in obj.fields.values():
            value = rec.get(f.name)
            if value is None:
                continue
            if f.reference_to is not None:
                target = self.records[f.reference_to].get(value)
                if target is None or target["IsDeleted"] or object_for_id(value) != f.reference_to:
                    raise SfError(
                        400,
                        "INVALID_CROSS_REFERENCE_KEY",
                        f"invalid cross reference id: {value}",
                        [f.name],
                    )
            if f.unique and isinstance(value, str):
                for other in self.find_external(obj.name, f.name, value):
                    if other["Id"] != self_id:
                        raise SfError(
                            400,
                            "DUPLICATE_VALUE",
                            f"duplicate value found: {f.name} duplicates value on record with "
                            f"id: {other['Id']}",
                            [f.name],
                        )
        check_rules(obj, rec)
        self._derive(obj, rec)

    def _derive(self, obj: SObject, rec: Record) -> None:
        if obj.name == "PricebookEntry":
            rec["Name"] = self.records["Product2"][rec["Product2Id"]]["Name"]
        elif obj.name == "OrderItem":
            entry = self.records["PricebookEntry"][rec["PricebookEntryId"]]
            order = self.records["Order"][rec["OrderId"]]
            if order["Pricebook2Id"] is None:
                self._touch("Order", order["Id"])
                order["Pricebook2Id"] = entry["Pricebook2Id"]
            elif order["Pricebook2Id"] != entry["Pricebook2Id"]:
                raise SfError(
                    400,
                    "FIELD_INTEGRITY_EXCEPTION",
                    "field integrity exception: PricebookEntryId (pricebook entry is in a "
                    "different pricebook than the one assigned to the order)",
                    ["PricebookEntryId"],
                )
            rec["Product2Id"] = entry["Product2Id"]
            rec["TotalPrice"] = float(rec["Quantity"]) * float(rec["UnitPrice"])
        elif obj.name == "Case":
            rec["IsClosed"] = rec.get("Status") == "Closed"

    def _after_write(self, obj: SObject, rec: Record) -> None:
        """Roll-up summary: Order.TotalAmount follows its items."""
        if obj.name != "OrderItem":
            return
        order = self.records["Order"].get(rec["OrderId"])
        if order is None or order["IsDeleted"]:
            return
        total = sum(
            i["TotalPrice"] or 0.0 for i in self.live("OrderItem") if i["OrderId"] == order["Id"]
        )
        if order["TotalAmount"] != total:
            self._touch("Order", order["Id"])
            order["TotalAmount"] = total
            _, ms = self._now()
            self.changes.append(
                Change(
                    "Order", "UPDATE", order["Id"], dict(order), ["TotalAmount"], [], commit_ms=ms
                )
            )
