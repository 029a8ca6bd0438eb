"""Configuration: one settings class per service over this shared base
(``services/common/envsettings.py`` reads them).

Parsed once at start-up; a bad value stops the process with a clear message (fail fast).
Service-specific variables carry the service's prefix (``BILLING_PORT``); the ones every process
shares (``DATABASE_URL``, ``REDIS_URL``, ...) have no prefix.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Self

from services.common.cache.keys import DEFAULT_NAMESPACE, check_namespace
from services.common.envsettings import Settings, SettingsError, setting, shared
from services.common.secret import SecretStr

__all__ = ["ConfigurationError", "SecretStr", "ServiceSettings", "setting", "shared"]


class ConfigurationError(RuntimeError):
    """Something the service needs at start is missing or unusable (a key file, a secret...).
    The service stops with this message and exit status 2, like a bad variable."""


def _near_life(seconds: float) -> float:
    if seconds < 0:
        raise ValueError("must be 0 (off) or more")
    return seconds


class ServiceSettings(Settings):
    """Settings every service has. Subclasses set ``env_prefix`` and their default port."""

    # "development" (``make run``, the tests) allows the development defaults of the secrets and
    # plaintext service ports; anything else requires every secret and the TLS files to be set.
    environment: str = shared("PORTAL_ENV", "production")

    host: str = "127.0.0.1"
    port: int = 0
    # Prometheus metrics over HTTP (GET /metrics) on this port; 0 = not exposed.
    metrics_port: int = 0
    # Seconds in-flight RPCs get to finish on SIGTERM before they are cancelled.
    shutdown_grace: float = 5.0
    # Seconds between two hand-backs of the C heap's free pages to the system (malloc_trim;
    # services/common/lean.py): memory a burst used returns within this time (sooner once the
    # resident size has grown by 1 MiB). 0 = only at start.
    memory_trim_interval_s: float = shared("MEMORY_TRIM_INTERVAL_S", 30.0)
    # Seconds after which the idle Redis connections beyond a few (services/common/cache/client.py)
    # that a whole such period did not use are closed: a burst's connections go back within two
    # of them. 0 = kept open. Checked at the trim's one-second checks (needs the trim interval > 0).
    redis_idle_close_s: float = shared("REDIS_IDLE_CLOSE_S", 10.0)
    log_level: str = shared("LOG_LEVEL", "info")
    # None: JSON when stderr is not a terminal, console otherwise.
    log_json: bool | None = shared("LOG_JSON", None)

    database_url: SecretStr = shared(
        "DATABASE_URL", SecretStr("postgresql://postgres@127.0.0.1:5432/portal")
    )
    redis_url: SecretStr = shared("REDIS_URL", SecretStr("redis://127.0.0.1:6379/0"))
    # Prefix of every Redis key and channel this deployment uses (``services/common/cache/keys``):
    # deployments sharing one Redis (a dev stack and a test run) each set their own.
    cache_namespace: str = shared("CACHE_NAMESPACE", DEFAULT_NAMESPACE, check=check_namespace)
    # Seconds a cache hit read from Redis is kept in the process and served again from it, kept
    # coherent by Redis's invalidation messages (services/common/cache/near.py); 0 = every hit
    # reads Redis.
    cache_near_life_s: float = shared("CACHE_NEAR_LIFE_S", 1.0, check=_near_life)

    # Access-token verification (tokens are issued by identity).
    jwt_issuer: str = shared("JWT_ISSUER", "portal-identity")
    jwt_audience: str = shared("JWT_AUDIENCE", "portal")
    # identity's JWKS endpoint; when unset the keys are read from JWKS_FILE.
    jwks_url: str | None = shared("JWKS_URL", None)
    jwks_file: Path = shared("JWKS_FILE", Path(".run/keys/jwks.json"))
    # Minimum seconds between two JWKS reloads triggered by an unknown key id.
    jwks_refresh_interval: float = shared("JWKS_REFRESH_INTERVAL", 10.0)
    # Seconds a loaded key set is used before it is reloaded in the background (a withdrawn
    # key is refused within this).
    jwks_max_age: float = shared("JWKS_MAX_AGE", 30.0)

    # Systems of record (defaults: the local sandboxes and their dev credentials).
    salesforce_url: str = shared("SALESFORCE_URL", "http://127.0.0.1:8701")
    salesforce_consumer_key: str = shared("SALESFORCE_CONSUMER_KEY", "portal-dev")
    salesforce_consumer_secret: SecretStr = shared(
        "SALESFORCE_CONSUMER_SECRET", SecretStr("portal-dev-secret")
    )
    salesforce_domain: str = shared("SALESFORCE_DOMAIN", "portal-dev.my")
    salesforce_pubsub_target: str = shared("SALESFORCE_PUBSUB_TARGET", "127.0.0.1:8704")
    salesforce_pubsub_tls: bool = shared("SALESFORCE_PUBSUB_TLS", False)
    whmcs_url: str = shared("WHMCS_URL", "http://127.0.0.1:8702")
    whmcs_identifier: str = shared("WHMCS_IDENTIFIER", "portal-dev")
    whmcs_secret: SecretStr = shared("WHMCS_SECRET", SecretStr("portal-dev-secret"))
    whmcs_webhook_secret: SecretStr = shared(
        "WHMCS_WEBHOOK_SECRET", SecretStr("portal-dev-webhook-secret")
    )
    # WHMCS client custom field holding the Salesforce customer number.
    whmcs_customer_number_field: int = shared("WHMCS_CUSTOMER_NUMBER_FIELD", 198)
    freebit_url: str = shared("FREEBIT_URL", "http://127.0.0.1:8703")
    freebit_oem_id: str = shared("FREEBIT_OEM_ID", "PORTALDEV")
    freebit_oem_key: SecretStr = shared("FREEBIT_OEM_KEY", SecretStr("portal-dev-key"))
    # Read timeout (s) of one HTTP call to each system of record (connect timeouts are fixed).
    # Slower answers count as an outage (UPSTREAM_UNAVAILABLE, a breaker failure).
    whmcs_timeout_s: float = shared("WHMCS_TIMEOUT_S", 5.0)
    salesforce_timeout_s: float = shared("SALESFORCE_TIMEOUT_S", 10.0)
    freebit_timeout_s: float = shared("FREEBIT_TIMEOUT_S", 10.0)
    # One upstream call with all its retries stays within this (below the gateway's 30 s route
    # timeout, so a slow upstream is our 503, not Envoy's 504).
    upstream_call_budget_s: float = shared("UPSTREAM_CALL_BUDGET_S", 20.0)
    # Circuit breaker of each upstream client (one per system per process): this many consecutive
    # unavailable outcomes open it; while open, calls fail fast for the cool-down, then one probe
    # decides (see services/common/clients/resilience.py).
    upstream_breaker_threshold: int = shared("UPSTREAM_BREAKER_THRESHOLD", 5)
    upstream_breaker_cooldown_s: float = shared("UPSTREAM_BREAKER_COOLDOWN_S", 30.0)

    # Outgoing mail: an SMTP relay (default: the mail sandbox of `make run`).
    smtp_host: str = shared("SMTP_HOST", "127.0.0.1")
    smtp_port: int = shared("SMTP_PORT", 8025)
    # STARTTLS after EHLO (a real relay on 587); off for the sandbox.
    smtp_starttls: bool = shared("SMTP_STARTTLS", False)
    smtp_username: str = shared("SMTP_USERNAME", "")
    smtp_password: SecretStr = shared("SMTP_PASSWORD", SecretStr(""))
    smtp_timeout_s: float = shared("SMTP_TIMEOUT_S", 10.0)
    mail_from: str = shared("MAIL_FROM", "Portal <no-reply@portal.example.jp>")

    # Mutual TLS on the service port and on calls to the other services: this process's
    # certificate and key, and the CA its peers' certificates must chain to. Unset (development
    # only): plaintext, every caller trusted.
    tls_ca_file: Path | None = shared("TLS_CA_FILE", None)
    tls_cert_file: Path | None = shared("TLS_CERT_FILE", None)
    tls_key_file: Path | None = shared("TLS_KEY_FILE", None)

    # The other services, for service-to-service gRPC (internal services live on these ports).
    identity_target: str = shared("IDENTITY_TARGET", "127.0.0.1:50051")
    billing_target: str = shared("BILLING_TARGET", "127.0.0.1:50052")
    commerce_target: str = shared("COMMERCE_TARGET", "127.0.0.1:50053")
    support_target: str = shared("SUPPORT_TARGET", "127.0.0.1:50054")

    @classmethod
    def load(cls, **overrides: Any) -> Self:
        """Parse the environment once; on a bad value print what is wrong and exit (status 2)."""
        try:
            settings = cls(**overrides)
        except SettingsError as exc:
            problems = [f"  {name}: {message}" for name, message in exc.problems]
            print("invalid configuration:", *problems, sep="\n", file=sys.stderr)
            raise SystemExit(2) from None
        missing = settings.missing_outside_development()
        if missing:
            problems = [f"  {name}: required outside development (PORTAL_ENV)" for name in missing]
            print("missing configuration:", *problems, sep="\n", file=sys.stderr)
            raise SystemExit(2)
        return settings

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @property
    def mesh_tls(self) -> bool:
        """Whether the service port and the calls to other services use mutual TLS."""
        return self.tls_cert_file is not None

    def missing_outside_development(self) -> list[str]:
        """Variables that must be set unless ``PORTAL_ENV=development``: every secret (they have
        development defaults, which a real deployment must never run on), the database and Redis
        URLs, and the mesh TLS files (set empty counts as missing: plaintext is for development
        only). Empty in development."""
        if self.development:
            return []
        return sorted(
            spec.variable
            for name, spec in self.fields.items()
            if (spec.secret and name not in self.fields_set)
            or (name.startswith("tls_") and getattr(self, name) is None)
        )
