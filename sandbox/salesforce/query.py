"""SOQL execution over the store: compiled getters, predicates, ordering and record shaping."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date
from typing import Any

from . import date_literals
from .errors import SfError, invalid_field, malformed_query
from .ids import normalize_id
from .schema import OBJECTS, Field, SObject
from .soql import ESCAPES, BoolOp, Compare, Condition, Literal, Query
from .store import Record, Store
from .validation import parse_datetime, sf_datetime

Getter = Callable[[Record], Any]
Predicate = Callable[[Record], bool]
_TEXT = frozenset({"string", "textarea", "email", "picklist", "multipicklist", "id", "reference"})
_NUM = frozenset({"double", "currency", "int"})
_LITERAL_KIND = {"boolean": "boolean", "date": "date", "datetime": "datetime"}


class Path:
    """A resolved field path such as ``PricebookEntry.Product2.Name``."""

    def __init__(self, store: Store, root: SObject, text: str) -> None:
        parts = text.split(".")
        if parts[0].lower() == root.name.lower() and len(parts) > 1:
            parts = parts[1:]  # `SELECT Account.Name FROM Account` is allowed
        self.hops: list[tuple[str, Field, str]] = []  # (relationship name, ref field, target)
        obj = root
        for part in parts[:-1]:
            ref = obj.relationship(part)
            if ref is None or ref.reference_to is None:
                raise invalid_field(
                    f"Didn't understand relationship '{part}' in field path. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' after "
                    "the custom relationship name."
                )
            self.hops.append((ref.relationship or part, ref, ref.reference_to))
            obj = OBJECTS[ref.reference_to]
        leaf = obj.lookup(parts[-1])
        if leaf is None:
            raise invalid_field(
                f"No such column '{parts[-1]}' on entity '{obj.name}'. If you are attempting to "
                "use a custom field, be sure to append the '__c' after the custom field name. "
                "Please reference your WSDL or the describe call for the appropriate names."
            )
        self.leaf = leaf
        self.store = store

    def getter(self) -> Getter:
        records = self.store.records
        hops = [(f.name, records[target]) for _, f, target in self.hops]
        name = self.leaf.name
        if not hops:
            return lambda rec: rec.get(name)

        def get(rec: Record) -> Any:
            cur: Record | None = rec
            for ref_name, table in hops:
                ref = cur.get(ref_name) if cur is not None else None
                cur = table.get(ref) if ref is not None else None
            return cur.get(name) if cur is not None else None

        return get


def _like_regex(raw: str) -> re.Pattern[str]:
    """A LIKE pattern from its string literal as written: bare ``%``/``_`` are the wildcards,
    ``\\%``/``\\_`` a literal percent/underscore, every other escape (``\\\\``, ``\\'``...)
    the character it stands for. Unescaping first would confuse ``'a\\\\%'`` (a backslash, then
    the wildcard) with ``'a\\%'`` (a literal percent)."""
    out = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            out.append(re.escape(nxt if nxt in "%_" else ESCAPES.get(nxt, nxt)))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _literal_value(f: Field, lit: Literal) -> Any:
    """Check the literal against the field type (Salesforce refuses mismatches) and convert it."""
    if lit.kind == "null":
        return None
    t = f.type
    want = "string" if t in _TEXT else "number" if t in _NUM else _LITERAL_KIND.get(t, "string")
    if lit.kind != want:
        quoted = (
            "and should be enclosed in quotes"
            if want == "string"
            else ("and should not be enclosed in quotes")
        )
        kind = {"number": "double", "datetime": "dateTime"}.get(want, want)
        raise malformed_query(
            f"value of filter criterion for field '{f.name}' must be of type {kind} {quoted}"
        )
    if t in ("id", "reference"):
        norm = normalize_id(lit.value)
        if norm is None:
            raise SfError(400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {lit.value}")
        return norm.casefold()
    if want == "string":
        return str(lit.value).casefold()
    if want == "datetime":
        return sf_datetime(parse_datetime(lit.value))
    return lit.value


def _norm(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def compile_condition(store: Store, obj: SObject, cond: Condition) -> Predicate:
    if isinstance(cond, BoolOp):
        parts = [compile_condition(store, obj, c) for c in cond.items]
        if cond.op == "not":
            inner = parts[0]
            return lambda rec: not inner(rec)
        if cond.op == "and":
            return lambda rec: all(p(rec) for p in parts)
        return lambda rec: any(p(rec) for p in parts)
    return _compile_compare(store, obj, cond)


def _compile_compare(store: Store, obj: SObject, cmp: Compare) -> Predicate:
    path = Path(store, obj, cmp.path)
    get = path.getter()
    f = path.leaf
    if cmp.op == "like":
        if f.type not in _TEXT:
            raise malformed_query(f"invalid operator on field '{f.name}': LIKE")
        rx = _like_regex(cmp.values[0].raw)
        return lambda rec: isinstance(v := get(rec), str) and rx.fullmatch(v) is not None
    if any(lit.kind == "dateliteral" for lit in cmp.values):
        return _date_literal_test(f, cmp, get)
    values = [_literal_value(f, lit) for lit in cmp.values]
    if cmp.op in ("in", "notin"):
        wanted = set(values)
        if cmp.op == "in":
            return lambda rec: _norm(get(rec)) in wanted
        return lambda rec: _norm(get(rec)) not in wanted
    value = values[0]
    if cmp.op == "=":
        return lambda rec: _norm(get(rec)) == value
    if cmp.op == "!=":
        return lambda rec: _norm(get(rec)) != value
    if value is None:
        return lambda rec: False
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
    }
    fn = ops[cmp.op]
    return lambda rec: (v := _norm(get(rec))) is not None and fn(v, value)


def _date_literal_test(f: Field, cmp: Compare, get: Getter) -> Predicate:
    if f.type not in ("date", "datetime") or len(cmp.values) != 1:
        raise malformed_query(
            f"value of filter criterion for field '{f.name}' must be of type "
            f"{'string' if f.type in _TEXT else f.type} and should not be a date literal"
        )
    test = date_literals.matcher(cmp.op, str(cmp.values[0].value))

    def day(value: Any) -> date:
        if f.type == "date":
            return date.fromisoformat(str(value))
        return parse_datetime(str(value)).astimezone(UTC).date()

    return lambda rec: (v := get(rec)) is not None and test(day(v))


def execute(
    store: Store, query: Query, version: str, *, include_deleted: bool = False
) -> tuple[int, list[dict[str, Any]]]:
    """Run the query; returns (totalSize, shaped records)."""
    obj = OBJECTS.get(query.sobject) or next(
        (o for n, o in OBJECTS.items() if n.lower() == query.sobject.lower()), None
    )
    if obj is None:
        raise SfError(400, "INVALID_TYPE", f"sObject type '{query.sobject}' is not supported.")
    table = store.records[obj.name].values()
    rows = list(table) if include_deleted else [r for r in table if not r["IsDeleted"]]
    if query.where is not None:
        pred = compile_condition(store, obj, query.where)
        rows = [r for r in rows if pred(r)]
    for item in reversed(query.order_by):
        get = Path(store, obj, item.path).getter()
        nulls_last = item.nulls_last if item.nulls_last is not None else item.descending
        null_flag = (
            (0 if not nulls_last else 1) if not item.descending else (0 if nulls_last else 1)
        )

        def key(rec: Record, get: Getter = get, nf: int = null_flag) -> tuple[int, Any]:
            v = get(rec)
            return (nf, 0) if v is None else (1 - nf, _norm(v))

        rows.sort(key=key, reverse=item.descending)
    if query.offset:
        if query.offset > 2000:
            raise SfError(400, "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000")
        rows = rows[query.offset :]
    if query.limit is not None:
        rows = rows[: query.limit]
    if query.count_only:
        return len(rows), []
    fields = expand_fields(obj, query.fields)
    return len(rows), [shape for shape in _shaper(store, obj, fields, version)(rows)]


def expand_fields(obj: SObject, fields: list[str]) -> list[str]:
    """``FIELDS(STANDARD|CUSTOM|ALL)`` as the object's field names (custom ones end ``__c``)."""
    out: list[str] = []
    for name in fields:
        group = {"FIELDS(STANDARD)": False, "FIELDS(CUSTOM)": True}.get(name)
        if name == "FIELDS(ALL)":
            out += list(obj.fields)
        elif group is not None:
            out += [f for f in obj.fields if f.endswith("__c") == group]
        else:
            out.append(name)
    return list(dict.fromkeys(out))


def _shaper(
    store: Store, obj: SObject, fields: list[str], version: str
) -> Callable[[list[Record]], list[dict[str, Any]]]:
    paths = [Path(store, obj, text) for text in fields]
    records = store.records
    base = f"/services/data/{version}/sobjects/"

    def attrs(name: str, rec_id: str) -> dict[str, str]:
        return {"type": name, "url": base + name + "/" + rec_id}

    def shape_one(rec: Record) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": attrs(obj.name, rec["Id"])}
        for path in paths:
            target: dict[str, Any] = out
            cur: Record | None = rec
            for rel, ref, target_obj in path.hops:
                if rel in target and target[rel] is None:
                    cur = None
                    break
                ref_id = cur.get(ref.name) if cur is not None else None
                parent = records[target_obj].get(ref_id) if ref_id else None
                if parent is None:
                    target[rel] = None  # the whole parent is null
                    cur = None
                    break
                nested = target.get(rel)
                if nested is None:
                    nested = target[rel] = {"attributes": attrs(target_obj, parent["Id"])}
                target, cur = nested, parent
            if cur is not None:
                target[path.leaf.name] = cur.get(path.leaf.name)
        return out

    return lambda rows: [shape_one(r) for r in rows]
