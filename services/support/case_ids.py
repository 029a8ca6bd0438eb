"""Salesforce Case ids: 15 characters (case-sensitive) or 18 (with the case-safe suffix), key
prefix ``500``. Anything else is refused before Salesforce is called."""

from __future__ import annotations

from services.common.salesforce_ids import normalize_id


def normalize_case_id(raw: str) -> str | None:
    """The 18-character form of a well-formed Case id, or None."""
    return normalize_id(raw, "500")
