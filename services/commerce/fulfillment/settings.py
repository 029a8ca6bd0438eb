"""Fulfillment settings: ``FULFILLMENT_*`` variables (the shared ones come from the commerce
settings the worker is started with)."""

from __future__ import annotations

from services.common.envsettings import Settings
from services.common.secret import SecretStr


class FulfillmentSettings(Settings, env_prefix="FULFILLMENT_"):
    enabled: bool = True
    # Name of the sweep's lock (the CDC stream and its replay id belong to commerce's consumer).
    consumer: str = "fulfillment"
    # Orders worked on at the same time by each replica's worker (an order sleeping between
    # Freebit activation polls or outage retries does not count: ``dispatcher.sleep_unheld``).
    concurrency: int = 16
    # Salesforce requests shared by the orders in flight (sfbatch): while such requests are
    # frequent, a read, an Activating mark or a write-back waits this long for company; a lone
    # order's request goes out at once.
    salesforce_batch_window_s: float = 0.01
    # A worker's claim on an order lasts this long unless renewed (every lease_s / 6 while it
    # works the order); a dead worker's orders are taken over once it has run out.
    lease_s: float = 30.0
    # Safety net besides the wake-up notifications: each worker looks for claimable orders
    # (new, given back, or whose lease expired) this often.
    poll_interval_s: float = 5.0
    # How often a replica tries to take the sweep's lock / the holder checks it still holds it.
    standby_retry_s: float = 2.0
    # Periodic safety sweep (reconciliation SOQL), run by one replica; 0 turns it off.
    sweep_interval_s: float = 300.0

    # Transient upstream outages: retry the step with backoff, give up after this long.
    retry_initial_s: float = 1.0
    retry_max_s: float = 60.0
    give_up_after_s: float = 1800.0

    # Freebit asynchronous completion: poll the account detail with backoff, bounded.
    activation_poll_initial_s: float = 2.0
    activation_poll_max_s: float = 60.0
    activation_timeout_s: float = 1800.0

    # MSISDNs of new lines: prefix + 8 digits from commerce.msisdn_seq (see the migration).
    msisdn_prefix: str = "070"
    # Freebit master account for physical-SIM registration (PA02-01).
    freebit_master_account: str = "PORTALMASTER"
    freebit_master_password: SecretStr = SecretStr("portal-dev-master")
    esim_sim_kind: str = "E2"
    esim_contract_line: str = "5G"
