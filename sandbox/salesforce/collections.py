"""sObject Collections (``composite/sobjects``): up to 200 records of any objects in one request.

After the REST API Developer Guide ("sObject Collections"): POST creates (each record names its
type in ``attributes``), PATCH updates (each record has its ``id``), DELETE takes ``ids``; the
answer is one result per record, in order. The request is one transaction, so identical changes
arrive as one merged CDC event. With ``allOrNone`` one failure rolls everything back and the other
records fail with ``ALL_OR_NONE_OPERATION_ROLLED_BACK``; without it each record stands alone.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from .errors import SfError
from .store import Store

MAX_RECORDS = 200
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    "fields": [],
}
Write = Callable[[], str]


def _records(body: Any) -> tuple[list[dict[str, Any]], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SfError(400, "JSON_PARSER_ERROR", "records is required")
    records = [r for r in body["records"] if isinstance(r, dict)]
    if len(records) != len(body["records"]):
        raise SfError(400, "JSON_PARSER_ERROR", "each record must be an object")
    return records, bool(body.get("allOrNone", False))


def _check_count(n: int) -> None:
    if not 1 <= n <= MAX_RECORDS:
        raise SfError(400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than "
                      f"{MAX_RECORDS} records into this call")  # fmt: skip


def _type_of(record: dict[str, Any]) -> str:
    attributes = record.get("attributes")
    kind = attributes.get("type") if isinstance(attributes, dict) else None
    if not isinstance(kind, str) or not kind:
        raise SfError(400, "INVALID_TYPE", "When creating or updating records, every record must "
                      "have a type in its attributes")  # fmt: skip
    return kind


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("attributes", "id", "Id")}


def _run(store: Store, writes: list[Write], all_or_none: bool) -> list[dict[str, Any]]:
    sp = store.savepoint() if all_or_none else None
    results: list[dict[str, Any]] = []
    for write in writes:
        try:
            results.append({"id": write(), "success": True, "errors": []})
        except SfError as exc:
            error = {"statusCode": exc.code, "message": exc.message, "fields": exc.fields}
            results.append({"success": False, "errors": [error]})
    if sp is not None and not all(r["success"] for r in results):
        store.rollback(sp)
        failed = {"success": False, "errors": [ROLLED_BACK]}
        results = [r if not r["success"] else {"id": r["id"], **failed} for r in results]
    elif sp is not None:
        store.release(sp)
    return results


def _create(store: Store, kind: str, values: dict[str, Any]) -> str:
    return store.create(store.obj(kind).name, values)


def create(store: Store, body: Any) -> list[dict[str, Any]]:
    records, all_or_none = _records(body)
    _check_count(len(records))
    writes: list[Write] = []
    for record in records:
        kind, values = _type_of(record), _fields(record)
        if "id" in record or "Id" in record:
            raise SfError(400, "INVALID_FIELD", "Can't specify an ID in a create request")
        writes.append(partial(_create, store, kind, values))
    return _run(store, writes, all_or_none)


def update(store: Store, body: Any) -> list[dict[str, Any]]:
    records, all_or_none = _records(body)
    _check_count(len(records))

    def write(kind: str, record_id: str, values: dict[str, Any]) -> str:
        name = store.obj(kind).name
        rec_id = str(store.get(name, record_id)["Id"])
        store.update(name, rec_id, values)
        return rec_id

    writes: list[Write] = []
    for record in records:
        kind, record_id = _type_of(record), str(record.get("id") or record.get("Id") or "")
        values = _fields(record)
        writes.append(partial(write, kind, record_id, values))
    return _run(store, writes, all_or_none)


def delete(store: Store, params: dict[str, str]) -> list[dict[str, Any]]:
    ids = [i for i in params.get("ids", "").split(",") if i]
    _check_count(len(ids))
    all_or_none = params.get("allOrNone", "false").lower() == "true"

    def write(record_id: str) -> str:
        for name in store.records:
            for rec in store.records[name].values():
                if str(rec["Id"])[:15] == record_id[:15] and not rec["IsDeleted"]:
                    store.delete(name, str(rec["Id"]))
                    return str(rec["Id"])
        raise SfError(404, "ENTITY_IS_DELETED", "entity is deleted or does not exist")

    return _run(store, [partial(write, i) for i in ids], all_or_none)
