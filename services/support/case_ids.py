"""Salesforce Case ids: 15 characters (case-sensitive) or 18 (with the case-safe suffix), key
prefix ``500``. Anything else is refused before Salesforce is called."""

from __future__ import annotations

import re

_SHAPE = re.compile(r"500[A-Za-z0-9]{12}(?:[A-Z0-5]{3})?", re.IGNORECASE | re.ASCII)
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def _suffix(base15: str) -> str:
    """One character per 5-character chunk: bit *i* set when character *i* is upper case."""
    out = []
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(base15[start : start + 5]) if "A" <= ch <= "Z")
        out.append(_SUFFIX[bits])
    return "".join(out)


def normalize_case_id(raw: str) -> str | None:
    """The 18-character form of a well-formed Case id, or None."""
    if not _SHAPE.fullmatch(raw):
        return None
    base = raw[:15]
    full = base + _suffix(base)
    if len(raw) == 18 and raw[15:].upper() != full[15:]:
        return None
    return full
