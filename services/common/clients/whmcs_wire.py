"""WHMCS wire details: PHP form encoding, the loose list wrapping, and the error-message table.

Pure functions (no I/O), so they are unit-tested on their own. See ``docs/contracts/whmcs.md``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

import phpserialize

from services.common.errors import (
    EmailAlreadyRegistered,
    InvalidCredentials,
    NotFound,
    PortalError,
    UpstreamRejected,
    ValidationFailed,
)

SYSTEM = "whmcs"


def php_serialize_b64(values: Mapping[int | str, Any]) -> str:
    """``customfields``/``configoptions``: ``base64(serialize(array))`` as PHP would decode it."""
    plain = {k: str(v) for k, v in values.items()}
    return base64.b64encode(phpserialize.dumps(plain)).decode("ascii")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):  # PHP: "0" is falsy, "false" would be truthy
        return "1" if value else "0"
    return str(value)


def php_form(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flatten params into PHP bracket syntax: ``pid=[12, 14]`` → ``pid[0]=12&pid[1]=14``,
    ``email_preferences={"invoice": True}`` → ``email_preferences[invoice]=1``; ``None`` is
    omitted."""
    out: list[tuple[str, str]] = []

    def walk(key: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, Mapping):
            for sub, item in value.items():
                walk(f"{key}[{sub}]", item)
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                walk(f"{key}[{i}]", item)
        else:
            out.append((key, _scalar(value)))

    for name, value in params.items():
        walk(name, value)
    return out


def unwrap(value: Any, singular: str) -> list[dict[str, Any]]:
    """``{"invoice": [...]}`` / ``""`` / ``None`` / a bare list / one bare object → a plain list."""
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, dict):
        if singular in value:
            return unwrap(value[singular], singular)
        return [value]
    return []


def as_int(value: Any, default: int = 0) -> int:
    """WHMCS sends counters and ids as strings in some actions and ints in others."""
    try:
        return int(str(value).strip())
    except ValueError:
        return default


def as_bool(value: Any) -> bool:
    """WHMCS booleans arrive as JSON booleans, ints or the strings ``"true"``/``"false"``."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def id_list(value: Any) -> list[int]:
    """``"1,2"`` (AddOrder's ``serviceids``) → ``[1, 2]``; ``""`` → ``[]``. Only ASCII digits
    count (``str.isdigit`` is also true of ``"²"``, which ``int`` refuses)."""
    parts = (p.strip() for p in str(value or "").split(","))
    return [int(p) for p in parts if p.isascii() and p.isdigit()]


def custom_field(client: Mapping[str, Any], field_id: int | str) -> str | None:
    """Value of a client custom field (e.g. 198, the customer number), ``None`` when empty."""
    for entry in unwrap(client.get("customfields"), "customfield"):
        if str(entry.get("id")) == str(field_id):
            text = str(entry.get("value") or "").strip()
            return text or None
    return None


ErrorFactory = Callable[[str], PortalError]


def _bad_email() -> ValidationFailed:
    return ValidationFailed.of("email", "Enter a valid e-mail address.")


def _unusable_email() -> ValidationFailed:
    """WHMCS refuses the address itself (e.g. a banned domain), not because it is taken."""
    return ValidationFailed.of("email", "This e-mail address cannot be used. Please use another.")


# Documented action errors (docs/contracts/whmcs.md) → typed errors, matched case-insensitively on
# the whole message. Anything not listed becomes a generic UpstreamRejected carrying the message.
ERRORS: dict[str, ErrorFactory] = {
    "client not found": lambda _m: NotFound(),
    "client id not found": lambda _m: NotFound(),
    "invalid client id": lambda _m: NotFound(),
    "invalid client_id": lambda _m: NotFound(),
    "invoice id not found": lambda _m: NotFound(),
    "a user already exists with that email address": lambda _m: EmailAlreadyRegistered(),
    "the email address you entered was not valid": lambda _m: _bad_email(),
    "the email address entered is not valid": lambda _m: _bad_email(),
    "the email address entered is not available for use.": lambda _m: _unusable_email(),
    "duplicate email address": lambda _m: EmailAlreadyRegistered(),
    "email or password invalid": lambda _m: InvalidCredentials(),
}


class WhmcsRejected(UpstreamRejected):
    """A WHMCS action error not in the table; ``detail`` is WHMCS's message."""

    def __init__(self, message: str) -> None:
        super().__init__(SYSTEM, "", message)


def error_for(message: str) -> PortalError:
    factory = ERRORS.get(message.strip().lower())
    return factory(message) if factory is not None else WhmcsRejected(message)
