"""Salesforce record ids: 15-character case-sensitive base plus the 3-character case-safe suffix."""

from __future__ import annotations

import itertools
import re

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$", re.IGNORECASE)

KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "Product2": "01t",
    "Pricebook2": "01s",
    "PricebookEntry": "01u",
    "Order": "801",
    "OrderItem": "802",
    "Case": "500",
    "CaseComment": "00a",
    "User": "005",
    "Organization": "00D",
    "QueryLocator": "01g",
}
_POD = "Dp0"  # instance/pod characters, fixed for the sandbox


def checksum(base15: str) -> str:
    """The real case-safe suffix: one character per 5-char chunk, bit i set when char i is A-Z."""
    out = []
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(base15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_SUFFIX[bits])
    return "".join(out)


def _base62(n: int, width: int) -> str:
    chars = []
    while n:
        n, r = divmod(n, 62)
        chars.append(_ALNUM[r])
    return "".join(reversed(chars)).rjust(width, "0")


def make_id(prefix: str, serial: int) -> str:
    base = prefix + _POD + _base62(serial, 9)
    return base + checksum(base)


class IdFactory:
    """Monotonic id source per key prefix (shared by all objects so ids never repeat)."""

    def __init__(self, start: int = 1_000_000) -> None:
        self._counter = itertools.count(start)

    def new(self, sobject: str) -> str:
        return make_id(KEY_PREFIXES[sobject], next(self._counter))


def normalize_id(value: str) -> str | None:
    """Return the 18-char form of a 15/18-char id, or None when malformed."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    base = value[:15]
    full = base + checksum(base)
    if len(value) == 18 and value[15:].upper() != full[15:]:
        return None
    return full


def prefix_of(value: str) -> str:
    return value[:3]


def object_for_id(value: str) -> str | None:
    for name, prefix in KEY_PREFIXES.items():
        if value.startswith(prefix):
            return name
    return None
