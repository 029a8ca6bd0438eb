"""Field validation of the sign-up form (VALIDATION_FAILED with one violation per bad field)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from services.common.errors import FieldViolation, ValidationFailed

MIN_PASSWORD = 10
ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postcode", "country")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PHONE = re.compile(r"^\+?[0-9 ()\-.]{6,20}$")


@dataclass(frozen=True)
class Address:
    line1: str
    line2: str
    city: str
    state: str
    postcode: str
    country: str


@dataclass(frozen=True)
class SignUpForm:
    customer_number: str
    email: str
    password: str
    first_name: str
    last_name: str
    phone: str
    address: Address

    def __repr__(self) -> str:  # the password never reaches a log line
        return f"SignUpForm(customer_number={self.customer_number!r}, ...)"


def control_characters(fields: Iterable[tuple[str, str]]) -> list[FieldViolation]:
    """A violation per field holding a control character (NUL, line breaks...): no form field
    has them, and Postgres text and SOQL cannot hold a NUL (it was a 500 before)."""
    return [
        FieldViolation(name, "Remove line breaks and other control characters.")
        for name, value in fields
        if any(unicodedata.category(ch) == "Cc" for ch in value)
    ]


def reject_control_characters(**fields: str) -> None:
    """VALIDATION_FAILED naming each field that holds a control character."""
    found = control_characters(fields.items())
    if found:
        raise ValidationFailed(violations=found)


def _required(out: list[FieldViolation], name: str, value: str) -> None:
    if not value.strip():
        out.append(FieldViolation(name, "This field is required."))


def check(form: SignUpForm) -> SignUpForm:
    """The form with whitespace trimmed and the country upper-cased, or VALIDATION_FAILED."""
    a = form.address
    address = Address(a.line1.strip(), a.line2.strip(), a.city.strip(), a.state.strip(),
                      a.postcode.strip(), a.country.strip().upper())  # fmt: skip
    form = SignUpForm(form.customer_number.strip(), form.email.strip(), form.password,
                      form.first_name.strip(), form.last_name.strip(), form.phone.strip(),
                      address)  # fmt: skip
    texts = [("customer_number", form.customer_number), ("email", form.email),
             ("first_name", form.first_name), ("last_name", form.last_name)]  # fmt: skip
    texts += [(f"address.{name}", getattr(address, name)) for name in ADDRESS_FIELDS]
    out = control_characters(texts)
    if not EMAIL.match(form.email):
        out.append(FieldViolation("email", "Enter a valid e-mail address."))
    if len(form.password) < MIN_PASSWORD:
        out.append(FieldViolation("password", f"Use at least {MIN_PASSWORD} characters."))
    _required(out, "first_name", form.first_name)
    _required(out, "last_name", form.last_name)
    if not _PHONE.match(form.phone):
        out.append(FieldViolation("phone", "Enter a valid phone number."))
    for name in ("line1", "city", "state", "postcode"):
        _required(out, f"address.{name}", getattr(address, name))
    if not _COUNTRY.match(address.country):
        out.append(FieldViolation("address.country", "Use a two-letter country code (ISO 3166)."))
    if out:
        raise ValidationFailed(violations=out)
    return form
