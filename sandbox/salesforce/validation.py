"""Coercion and validation of REST write bodies, with Salesforce's error codes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from .errors import SfError
from .ids import normalize_id
from .schema import Field, SObject

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def sf_datetime(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime:
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _parser_error(f: Field, value: Any) -> SfError:
    kind = {"double": "double", "currency": "double", "boolean": "boolean"}.get(f.type, f.type)
    return SfError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from VALUE_STRING value {value} "
        "or request may be missing a required field",
    )


def coerce(obj: SObject, f: Field, value: Any) -> Any:
    """Turn a JSON value into the stored Python value of field ``f`` (None = null)."""
    if value is None or value == "":
        return None
    t = f.type
    if t in ("string", "textarea", "email", "picklist", "multipicklist"):
        if isinstance(value, bool | dict | list):
            raise _parser_error(f, value)
        text = str(value)
        if t == "email" and not _EMAIL_RE.match(text):
            raise SfError(
                400, "INVALID_EMAIL_ADDRESS", f"{f.name}: invalid email address: {text}", [f.name]
            )
        if t == "picklist" and text not in f.picklist:
            raise _bad_picklist(f, text)
        if t == "multipicklist":
            parts = [p.strip() for p in text.split(";") if p.strip()]
            for part in parts:
                if part not in f.picklist:
                    raise _bad_picklist(f, part)
            text = ";".join(parts)
        return text
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _parser_error(f, value)
    if t in ("double", "currency", "int"):
        if isinstance(value, bool):
            raise _parser_error(f, value)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _parser_error(f, value) from None
    if t == "date":
        try:
            return date.fromisoformat(str(value)[:10]).isoformat()
        except ValueError:
            raise _parser_error(f, value) from None
    if t == "datetime":
        try:
            return sf_datetime(parse_datetime(str(value)))
        except ValueError:
            raise _parser_error(f, value) from None
    if t in ("reference", "id"):
        norm = normalize_id(value) if isinstance(value, str) else None
        if norm is None:
            label = f.reference_to or obj.name
            raise SfError(
                400, "MALFORMED_ID", f"{label} ID: id value of incorrect type: {value}", [f.name]
            )
        return norm
    raise _parser_error(f, value)


def _bad_picklist(f: Field, value: str) -> SfError:
    return SfError(
        400,
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        f"{f.name}: bad value for restricted picklist field: {value}",
        [f.name],
    )


def clean_body(obj: SObject, body: Any, *, creating: bool) -> dict[str, Any]:
    """Validate a create/update body; returns canonical field name -> stored value."""
    if not isinstance(body, dict):
        raise SfError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    values: dict[str, Any] = {}
    for key, raw in body.items():
        if key == "attributes":
            continue
        f = obj.lookup(key)
        if f is None:
            raise SfError(
                400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}", []
            )
        if (creating and not f.createable) or (not creating and not f.updateable):
            verb = "create" if creating else "update"
            raise SfError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to {verb} fields: {f.name}. Please check the security settings of this "
                "field and verify that it is read/write for your profile or permission set.",
                [f.name],
            )
        values[f.name] = coerce(obj, f, raw)
    return values


def check_required(obj: SObject, record: dict[str, Any]) -> None:
    missing = [f.name for f in obj.fields.values() if f.required and record.get(f.name) is None]
    if missing:
        raise SfError(
            400,
            "REQUIRED_FIELD_MISSING",
            f"Required fields are missing: [{', '.join(missing)}]",
            missing,
        )


def check_rules(obj: SObject, record: dict[str, Any]) -> None:
    """The org's validation rules (FIELD_CUSTOM_VALIDATION_EXCEPTION)."""
    if obj.name == "Order" and record.get("SIM_Type__c") == "eSIM" and not record.get("EID__c"):
        raise SfError(
            400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "EID is required for eSIM orders.", ["EID__c"]
        )
    if obj.name == "OrderItem" and (record.get("Quantity") or 0) <= 0:
        raise SfError(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            f"Quantity: value outside of valid range on numeric field: {record.get('Quantity')}",
            ["Quantity"],
        )
