"""Identity settings: ``IDENTITY_*`` variables plus the shared ones."""

from __future__ import annotations

from pathlib import Path

from services.common.settings import ServiceSettings, shared


class IdentitySettings(ServiceSettings, env_prefix="IDENTITY_"):
    port: int = 50051

    # The current signing key; ``next-key.pem`` / ``previous-key.pem`` beside it are published too.
    signing_key_file: Path = shared("SIGNING_KEY_FILE", Path(".run/keys/signing-key.pem"))
    # Write the published JWKS to JWKS_FILE (what Envoy and the services read) at start and on
    # every key change, so the file and GetJwks always agree.
    publish_jwks_file: bool = True
    key_reload_interval: float = 5.0

    access_token_ttl: int = 15 * 60
    refresh_token_ttl: int = 30 * 24 * 3600

    # argon2id, OWASP Password Storage Cheat Sheet: m=19 MiB, t=2, p=1.
    argon2_memory_kib: int = 19 * 1024
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    # Hashes computed at once (each takes a core for ~tens of ms).
    argon2_concurrency: int = 2

    # Throttling (fixed windows in Postgres).
    login_window_s: int = 15 * 60
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 30
    lookup_window_s: int = 60
    lookup_max_per_address: int = 30
    signup_window_s: int = 15 * 60
    signup_max_per_address: int = 20
    # Sign-up codes sent (signup:start) and password resets asked for, per address and window.
    signup_start_max_per_address: int = 20
    reset_max_per_address: int = 10
    link_max_per_address: int = 20
    # A refused WHMCS login (link) answers no sooner than this, whether the e-mail is known or not.
    link_failure_floor_s: float = 0.3

    # One-time e-mail codes (sign-up, password reset).
    code_ttl_s: int = 10 * 60
    code_max_attempts: int = 5
    code_resend_s: int = 60

    # Outbox relay (a background task in every replica; off only in tests that drive it).
    outbox_relay: bool = True
    outbox_poll_interval: float = 1.0
    outbox_backoff_initial: float = 0.5
    outbox_backoff_max: float = 60.0

    db_pool_max: int = 10
