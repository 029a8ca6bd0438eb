"""The REST data API as plain functions of (method, path, params, body) -> (status, json).

Used by the aiohttp handlers and by ``composite`` sub-requests alike.
"""

from __future__ import annotations

import itertools
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from . import collections, describe
from .errors import SfError, not_found
from .ids import KEY_PREFIXES, make_id
from .query import execute
from .schema import OBJECTS
from .soql import parse
from .store import Store

_VERSION_RE = re.compile(r"^/services/data/(v\d+\.\d+)/(.*)$")
_LOCATOR_RE = re.compile(r"^(01g[0-9A-Za-z]{15})-(\d+)$")
_FROM_RE = re.compile(r"\bfrom\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def split_path(path: str) -> tuple[str, list[str]]:
    m = _VERSION_RE.match(path)
    if m is None:
        raise not_found()
    return m.group(1), [p for p in m.group(2).split("/") if p]


def action_name(method: str, path: str, params: dict[str, str]) -> str:
    """The stats/fault key of a data API call: ``query:Order``, ``sobjects:Account:PATCH``..."""
    m = _VERSION_RE.match(path)
    if m is None:
        return "other"
    parts = [p for p in m.group(2).split("/") if p]
    if not parts:
        return "other"
    head = parts[0]
    if head == "composite" and len(parts) > 1:
        return f"composite:{parts[1]}"  # composite/sobjects: one write, one transaction
    if head in ("query", "queryAll"):
        if len(parts) > 1:
            return f"{head}:more"
        found = _FROM_RE.search(params.get("q", ""))
        name = found.group(1) if found else "?"
        canonical = next((o for o in OBJECTS if o.lower() == name.lower()), name)
        return f"{head}:{canonical}"
    if head == "sobjects" and len(parts) > 1:
        canonical = next((o for o in OBJECTS if o.lower() == parts[1].lower()), parts[1])
        return f"sobjects:{canonical}:{method.upper()}"
    return head


class RestApi:
    def __init__(self, store: Store, batch_size: int) -> None:
        self.store = store
        self.batch_size = batch_size
        self._cursors: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._locators = itertools.count(1)

    def handle(self, method: str, path: str, params: dict[str, str], body: Any) -> Reply:
        if path.rstrip("/") == "/services/data" and method.upper() == "GET":
            return Reply(200, describe.versions())
        version, parts = split_path(path)
        method = method.upper()
        head = parts[0] if parts else ""
        if parts[:2] == ["composite", "sobjects"]:
            return self._collection(method, parts[2:], params, body)
        if head == "sobjects" and len(parts) == 1 and method == "GET":
            return Reply(200, describe.global_describe(version))
        if head == "sobjects" and len(parts) == 3 and parts[2] == "describe" and method == "GET":
            return Reply(200, describe.describe(self.store.obj(parts[1]), version))
        if head in ("query", "queryAll") and method == "GET":
            if len(parts) == 2:
                return self._more(version, parts[1])
            if len(parts) == 1:
                return self._query(version, params, include_deleted=head == "queryAll")
        if head == "sobjects" and len(parts) >= 2:
            return self._sobjects(version, method, parts[1:], params, body)
        if head == "" and method == "GET":
            return Reply(200, {"sobjects": f"/services/data/{version}/sobjects"})
        raise not_found()

    def _collection(self, method: str, rest: list[str], params: dict[str, str], body: Any) -> Reply:
        if rest:
            raise not_found()
        if method == "POST":
            return Reply(200, collections.create(self.store, body))
        if method == "PATCH":
            return Reply(200, collections.update(self.store, body))
        if method == "DELETE":
            return Reply(200, collections.delete(self.store, params))
        allowed = "Allowed are POST,PATCH,DELETE"
        raise SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. {allowed}")

    # -- query --------------------------------------------------------------------------------
    def _query(self, version: str, params: dict[str, str], *, include_deleted: bool) -> Reply:
        q = params.get("q")
        if not q:
            raise SfError(400, "MALFORMED_QUERY", "A query string has to be specified")
        total, rows = execute(self.store, parse(q), version, include_deleted=include_deleted)
        return self._page(version, total, rows, None, 0, self.batch_size)

    def _page(
        self,
        version: str,
        total: int,
        rows: list[dict[str, Any]],
        locator: str | None,
        start: int,
        size: int,
    ) -> Reply:
        end = start + size
        body: dict[str, Any] = {"totalSize": total, "done": end >= len(rows)}
        if end < len(rows):
            if locator is None:
                locator = make_id(KEY_PREFIXES["QueryLocator"], next(self._locators))[:18]
                self._cursors[locator] = rows
                while len(self._cursors) > 200:
                    self._cursors.popitem(last=False)
            body["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}-{end}"
        body["records"] = rows[start:end]
        return Reply(200, body)

    def _more(self, version: str, token: str) -> Reply:
        m = _LOCATOR_RE.match(token)
        rows = self._cursors.get(m.group(1)) if m else None
        if m is None or rows is None:
            raise SfError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(version, len(rows), rows, m.group(1), int(m.group(2)), self.batch_size)

    # -- sobjects -----------------------------------------------------------------------------
    def _sobjects(
        self, version: str, method: str, parts: list[str], params: dict[str, str], body: Any
    ) -> Reply:
        obj = self.store.obj(parts[0])
        name = obj.name
        if len(parts) == 1:
            if method == "POST":
                new_id = self.store.create(name, body)
                location = f"/services/data/{version}/sobjects/{name}/{new_id}"
                return Reply(
                    201, {"id": new_id, "success": True, "errors": []}, {"Location": location}
                )
            if method == "GET":
                return Reply(
                    200,
                    {
                        "objectDescribe": {"name": name, "keyPrefix": KEY_PREFIXES[name]},
                        "recentItems": [],
                    },
                )
            raise SfError(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{method}' not allowed. Allowed are GET,POST",
            )
        if len(parts) == 2:
            record_id = parts[1]
            if method == "GET":
                return Reply(
                    200,
                    self._shape(
                        version, name, self.store.get(name, record_id), params.get("fields")
                    ),
                )
            if method == "PATCH":
                self.store.update(name, self.store.get(name, record_id)["Id"], body)
                return Reply(204)
            if method == "DELETE":
                self.store.delete(name, self.store.get(name, record_id)["Id"])
                return Reply(204)
            raise SfError(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{method}' not allowed. Allowed are GET,PATCH,DELETE",
            )
        if len(parts) == 3:
            return self._external(version, method, name, parts[1], parts[2], params, body)
        raise not_found()

    def _external(
        self,
        version: str,
        method: str,
        name: str,
        field_name: str,
        value: str,
        params: dict[str, str],
        body: Any,
    ) -> Reply:
        f = OBJECTS[name].lookup(field_name)
        if f is None or not f.external_id:
            raise SfError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            )
        if method == "PATCH":
            record_id, created = self.store.upsert(name, f.name, value, body)
            return Reply(
                201 if created else 200,
                {"id": record_id, "success": True, "errors": [], "created": created},
            )
        matches = self.store.find_external(name, f.name, value)
        if len(matches) > 1:
            return Reply(
                300, [f"/services/data/{version}/sobjects/{name}/{m['Id']}" for m in matches]
            )
        if not matches:
            raise not_found()
        if method == "GET":
            return Reply(200, self._shape(version, name, matches[0], params.get("fields")))
        if method == "DELETE":
            self.store.delete(name, matches[0]["Id"])
            return Reply(204)
        raise SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed.")

    def _shape(
        self, version: str, name: str, rec: dict[str, Any], only: str | None
    ) -> dict[str, Any]:
        obj = OBJECTS[name]
        out: dict[str, Any] = {
            "attributes": {
                "type": name,
                "url": f"/services/data/{version}/sobjects/{name}/{rec['Id']}",
            }
        }
        wanted = [s.strip() for s in only.split(",")] if only else list(obj.fields)
        for key in wanted:
            f = obj.lookup(key)
            if f is None:
                raise SfError(400, "INVALID_FIELD", f"No such column '{key}' on entity '{name}'.")
            out[f.name] = rec.get(f.name)
        return out
