"""Commerce settings: ``COMMERCE_*`` variables plus the shared ones."""

from __future__ import annotations

import os

from services.commerce.fulfillment.settings import FulfillmentSettings
from services.common.settings import SecretStr, ServiceSettings


class CommerceSettings(ServiceSettings, env_prefix="COMMERCE_"):
    port: int = 50053

    # The Salesforce pricebook the portal sells from (Pricebook2.Name).
    pricebook_name: str = "Portal Pricebook"
    # Deadline of a call to identity's / billing's internal services.
    internal_timeout_s: float = 3.0

    # CDC consumer: off only in tests that drive the handlers themselves.
    cdc_enabled: bool = True
    # How often a standby replica tries to take the consumer lock.
    cdc_standby_retry_s: float = 2.0
    # Events asked for per Pub/Sub fetch; also the most events the consumer handles as one batch.
    cdc_batch: int = 100

    # WatchOrders: a heartbeat message every this many seconds on an idle stream.
    watch_heartbeat_s: float = 15.0
    # Concurrent WatchOrders streams of one user on one commerce process.
    watch_max_streams_per_user: int = 5

    # GetSimUsage refresh=true reads Freebit again only when the cached figures are this old.
    sim_usage_refresh_min_s: float = 60.0
    # How often scheduled SIM cancellations are checked at Freebit (0 turns the watcher off).
    sim_watch_interval_s: float = 300.0

    db_pool_max: int = 10

    # Signs the tickets that open GET /v1/orders:events (a per-deployment secret in production).
    watch_ticket_secret: SecretStr = SecretStr("portal-dev-commerce-watch-ticket-secret")

    # Signs ListOrders page tokens (a per-deployment secret in production).
    page_token_secret: SecretStr = SecretStr("portal-dev-commerce-page-token-secret")

    # The fulfillment worker's knobs (``FULFILLMENT_*``), read with the rest of commerce's settings.
    fulfillment: FulfillmentSettings

    def missing_outside_development(self) -> list[str]:
        """The shared list, and the fulfillment worker's Freebit master password (read from
        ``FULFILLMENT_FREEBIT_MASTER_PASSWORD`` into ``fulfillment``)."""
        missing = super().missing_outside_development()
        variable = "FULFILLMENT_FREEBIT_MASTER_PASSWORD"
        if not self.development and not os.environ.get(variable):
            missing.append(variable)
        return missing
