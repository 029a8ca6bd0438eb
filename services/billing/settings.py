"""Billing settings: ``BILLING_*`` variables plus the shared ones."""

from __future__ import annotations

from services.common.settings import SecretStr, ServiceSettings


class BillingSettings(ServiceSettings, env_prefix="BILLING_"):
    port: int = 50052
    # HMAC key of the opaque page tokens (BILLING_PAGE_TOKEN_SECRET); rotate to void old tokens.
    page_token_secret: SecretStr = SecretStr("portal-dev-page-token-secret")
    # Currency of WHMCS rows that carry none (GetClientsProducts rows never do).
    default_currency: str = "JPY"
    # Webhooks: accepted distance of `occurredAt` from now, and how long an event id is remembered
    # (longer than the window, so a replay inside the window is always recognised).
    webhook_window_s: float = 300.0
    webhook_dedupe_ttl_s: int = 1800
