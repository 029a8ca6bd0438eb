"""Resilience policies for tests that run services against in-process sandboxes."""

from __future__ import annotations

from services.common.clients import Policy

# Short timeouts and tiny backoff so failing upstreams cost milliseconds; a breaker threshold high
# enough that a test's own fault injection never opens it by accident.
FAST = Policy(
    timeout_s=2.0,
    read_attempts=2,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    breaker_threshold=50,
    breaker_cooldown_s=0.5,
)
