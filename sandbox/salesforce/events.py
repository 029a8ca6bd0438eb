"""Platform events the sandbox accepts on ``Publish`` (CDC channels are subscribe-only)."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import fastavro


@dataclass
class PlatformEvent:
    topic: str
    schema_id: str
    schema_json: str
    parsed: Any


def _define(name: str, fields: list[tuple[str, str]]) -> PlatformEvent:
    schema = {
        "type": "record",
        "name": name,
        "namespace": "com.sforce.eventbus",
        "fields": [
            {"name": "CreatedDate", "type": "long"},
            {"name": "CreatedById", "type": "string"},
            *({"name": n, "type": ["null", t], "default": None} for n, t in fields),
        ],
    }
    text = json.dumps(schema, separators=(",", ":"))
    schema_id = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()[:16])
    return PlatformEvent(
        f"/event/{name}", schema_id.decode().rstrip("="), text, fastavro.parse_schema(schema)
    )


_NOTIFICATION = _define(
    "Portal_Notification__e", [("Account_Id__c", "string"), ("Message__c", "string")]
)
PLATFORM_EVENTS: dict[str, PlatformEvent] = {_NOTIFICATION.topic: _NOTIFICATION}
