"""Update masks and field validation of the billing profile (pure; no I/O).

Mask paths are the proto field names (``first_name``, ``address.city``; camelCase is accepted
too, as the JSON mapping spells them), ``address`` means every address field. Each masked field is
checked; all problems are reported at once as BadRequest field violations.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from portal.billing.v1 import billing_pb2 as pb

from services.common.errors import FieldViolation, ValidationFailed

ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postcode", "country")
TOP_FIELDS = ("first_name", "last_name", "company_name", "email", "phone")
PATHS = frozenset({*TOP_FIELDS, *(f"address.{f}" for f in ADDRESS_FIELDS)})
# Profile path → WHMCS UpdateClient parameter.
WHMCS_FIELD = {
    "first_name": "firstname", "last_name": "lastname", "company_name": "companyname",
    "email": "email", "phone": "phonenumber", "address.line1": "address1",
    "address.line2": "address2", "address.city": "city", "address.state": "state",
    "address.postcode": "postcode", "address.country": "country",
}  # fmt: skip
REQUIRED = frozenset(
    {"first_name", "last_name", "email", "address.line1", "address.city", "address.country"}
)
MAX_LENGTH = 100

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{5,22}$")
_POSTCODE_JP = re.compile(r"^\d{3}-?\d{4}$")
_POSTCODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{1,9}$")


def normalise_mask(paths: Iterable[str]) -> list[str]:
    """Mask paths → the set of leaf paths, in a stable order; unknown paths → VALIDATION_FAILED."""
    leaves: set[str] = set()
    unknown: list[FieldViolation] = []
    for raw in paths:
        path = ".".join(_CAMEL.sub("_", part).lower() for part in raw.strip().split("."))
        if path == "address":
            leaves.update(f"address.{f}" for f in ADDRESS_FIELDS)
        elif path in PATHS:
            leaves.add(path)
        else:
            unknown.append(FieldViolation("update_mask", f"Unknown field: {raw[:60]}"))
    if unknown:
        raise ValidationFailed("The update mask names unknown fields.", violations=unknown)
    if not leaves:
        raise ValidationFailed.of("update_mask", "Name at least one field to update.")
    return sorted(leaves)


def value_of(profile: pb.BillingProfile, path: str) -> str:
    head, _, leaf = path.partition(".")
    return str(getattr(profile.address, leaf) if leaf else getattr(profile, head)).strip()


def apply(
    current: pb.BillingProfile, update: pb.BillingProfile, paths: list[str]
) -> pb.BillingProfile:
    """``current`` with the masked fields taken from ``update`` (trimmed; country upper-cased)."""
    merged = pb.BillingProfile()
    merged.CopyFrom(current)
    for path in paths:
        value = value_of(update, path)
        if path == "address.country":
            value = value.upper()
        head, _, leaf = path.partition(".")
        setattr(merged.address if leaf else merged, leaf or head, value)
    return merged


def validate(profile: pb.BillingProfile, paths: list[str]) -> None:
    problems = [v for v in (_check(profile, path, value_of(profile, path)) for path in paths) if v]
    if problems:
        raise ValidationFailed(violations=problems)


def _check(profile: pb.BillingProfile, path: str, value: str) -> FieldViolation | None:
    field = f"profile.{path}"
    if not value:
        return FieldViolation(field, "This field is required.") if path in REQUIRED else None
    if len(value) > MAX_LENGTH:
        return FieldViolation(field, f"At most {MAX_LENGTH} characters.")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        # A line break in an address line comes back split into line1/line2 on every order
        # (Salesforce has one BillingStreet); no field of the profile is multi-line.
        return FieldViolation(field, "Remove line breaks and other control characters.")
    problem = _format_problem(path, value, profile.address.country.upper())
    return FieldViolation(field, problem) if problem else None


def _format_problem(path: str, value: str, country: str) -> str:
    if path == "email" and not _EMAIL.match(value):
        return "Enter a valid e-mail address."
    if path == "address.country" and not _COUNTRY.match(value):
        return "Use a two-letter ISO 3166-1 country code, e.g. JP."
    if path == "phone" and not _PHONE.match(value):
        return "Enter a valid phone number, e.g. +81 3 1234 5678."
    if path == "address.postcode":
        pattern = _POSTCODE_JP if country == "JP" else _POSTCODE
        if not pattern.match(value):
            return "Enter a valid postcode, e.g. 150-0001."
    return ""


def whmcs_fields(profile: pb.BillingProfile, paths: list[str]) -> dict[str, str]:
    """The UpdateClient parameters for the masked fields."""
    return {WHMCS_FIELD[path]: value_of(profile, path) for path in paths}
