"""Settings of the WHMCS sandbox: defaults are the development values (``docs/operations.md``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8080/v1/webhooks/whmcs"


@dataclass(frozen=True)
class WhmcsSettings:
    identifier: str = "portal-dev"
    secret: str = "portal-dev-secret"
    public_url: str = ""  # base of SSO redirect URLs; "" = http://<host>:<bound port>
    sso_ttl: float = 60.0
    webhook_url: str = DEFAULT_WEBHOOK_URL  # "" disables hook delivery
    webhook_secret: str = "portal-dev-webhook-secret"
    webhook_base_delay: float = 0.2  # first retry after this many seconds, doubling each time
    webhook_max_attempts: int = 6
    webhook_timeout: float = 5.0
    webhook_workers: int = 2
    # WHMCS's "Phone Numbers" setting (Setup > General Settings > Localisation, docs.whmcs.com
    # "Phone Numbers"; on by default in WHMCS 7.4+): a saved phone number is stored as
    # ``+<calling code>.<number>``. Off here: numbers are stored as entered.
    phone_numbers_formatted: bool = False

    def __repr__(self) -> str:  # keep secrets out of logs and tracebacks
        shown = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in {"secret", "webhook_secret"}
        }
        return f"WhmcsSettings({shown})"

    def with_overrides(self, overrides: Mapping[str, Any]) -> WhmcsSettings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


ENV_PREFIX = "WHMCS_SANDBOX_"


def settings_from_env(env: Mapping[str, str] | None = None) -> WhmcsSettings:
    """``WHMCS_SANDBOX_<FIELD>`` (e.g. ``WHMCS_SANDBOX_WEBHOOK_URL``) overrides each field."""
    source = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in fields(WhmcsSettings):
        raw = source.get(ENV_PREFIX + f.name.upper())
        if raw is None:
            continue
        kind = type(getattr(WhmcsSettings(), f.name))
        if kind is bool:
            values[f.name] = raw.strip().lower() in {"1", "true", "yes", "on"}
        else:
            values[f.name] = kind(raw)
    return WhmcsSettings().with_overrides(values)
