"""Settings of the Salesforce sandbox (constructor arguments, or ``SF_SANDBOX_*`` env vars)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass, fields

from .ids import make_id

ORG_ID = make_id("00D", 4242)


@dataclass
class Settings:
    consumer_key: str = "portal-dev"
    consumer_secret: str = "portal-dev-secret"
    token_lifetime_s: float = 7200.0
    instance_url: str | None = None  # default https://<host>:<port> (simple-salesforce wants https)
    batch_size: int = 2000  # records per query batch (nextRecordsUrl beyond)
    keepalive_s: float = 5.0  # Pub/Sub keep-alive interval while demand is pending (real: <270 s)
    # A Subscribe stream with no pending demand is closed (OK) after this long without a
    # FetchRequest (real: 60 s, docs/contracts/salesforce.md "Idle streams").
    idle_close_s: float = 60.0
    retention_s: float = 72 * 3600.0  # Pub/Sub event retention
    api_limit: int = 100_000  # Sforce-Limit-Info daily limit
    pricebook_name: str = "Portal Pricebook"
    tenant_id: str = ORG_ID
    seed: bool = True

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"SF_SANDBOX_{f.name.upper()}")
            if raw is None:
                continue
            kind = str(f.type)
            if "bool" in kind:
                values[f.name] = raw.lower() in ("1", "true", "yes")
            elif "float" in kind:
                values[f.name] = float(raw)
            elif "int" in kind:
                values[f.name] = int(raw)
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


class Tokens:
    """OAuth access tokens issued by ``/services/oauth2/token`` (shared with Pub/Sub auth)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tokens: dict[str, float] = {}  # token -> monotonic expiry

    def issue(self) -> str:
        token = f"{self.settings.tenant_id[:15]}!AQ0A{secrets.token_urlsafe(72)}"
        self._tokens[token] = time.monotonic() + self.settings.token_lifetime_s
        return token

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        expiry = self._tokens.get(token)
        if expiry is None:
            return False
        if time.monotonic() >= expiry:
            del self._tokens[token]
            return False
        return True

    def expire_all(self) -> None:
        self._tokens.clear()

    def signature(self, token_id: str, issued_at: str) -> str:
        key = self.settings.consumer_secret.encode()
        digest = hmac.new(key, (token_id + issued_at).encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()
