"""Client-chosen request ids that make a create safe to repeat (orders, cases).

The id is scoped to the caller's Salesforce account and stored in the record's
``Portal_Request_Key__c`` (an external id, unique in Salesforce), so a second insert with the same
key is refused by Salesforce itself (DUPLICATE_VALUE) and the first record is answered instead,
across retries, replicas and timeouts that hid a success.
"""

from __future__ import annotations

import hashlib

from services.common.errors import FieldViolation

MAX_REQUEST_ID = 64
KEY_FIELD = "Portal_Request_Key__c"


def request_id_violation(request_id: str, *, required: bool) -> FieldViolation | None:
    """What is wrong with a request id: empty when ``required``, too long, control characters
    (Postgres text cannot even hold a NUL)."""
    if not request_id.strip():
        return FieldViolation("request_id", "A request id is required.") if required else None
    if len(request_id) > MAX_REQUEST_ID:
        return FieldViolation("request_id", f"At most {MAX_REQUEST_ID} characters.")
    if not request_id.isprintable():
        return FieldViolation("request_id", "No control characters.")
    return None


def request_key(account_id: str, request_id: str) -> str:
    """``Portal_Request_Key__c``: the caller's request id scoped to the account (≤ 80 chars)."""
    key = f"{account_id}:{request_id}"
    if len(key) <= 80:
        return key
    return f"{account_id}:sha256:{hashlib.sha256(request_id.encode()).hexdigest()[:48]}"
