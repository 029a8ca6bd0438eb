"""Resilience around every upstream call: timeout, retries, circuit breaker, concurrency, telemetry.

One :class:`Upstream` per system of record (``whmcs``, ``salesforce``, ``salesforce_pubsub``,
``freebit``) wraps each call in, from the outside in:

1. **retries** (tenacity ``AsyncRetrying``): only when the caller declares the call idempotent (a
   read), only on :class:`UpstreamUnavailable`, with full-jitter exponential backoff
   (``wait_random_exponential``); the first attempt runs without tenacity, which is only set up
   once a read is to be retried (its per-call cost was most of this module's overhead). Writes
   are attempted exactly once: a timed-out write may have
   happened, and repeating it is the caller's decision (idempotency keys), not ours. tenacity is
   the de-facto standard, supports asyncio natively and composes with our own error types.
2. **circuit breaker** (``services.common.breaker``, shared with the cache; why not purgatory is
   said there): after ``threshold`` consecutive unavailable outcomes the breaker opens and calls
   fail fast with :class:`BreakerOpen` for ``cooldown_s``; then exactly one probe call is let
   through (half-open) and its outcome closes or re-opens it.
3. **concurrency limit**: an ``asyncio.Semaphore`` per upstream (``max_concurrency``).
4. **timeout**: ``asyncio.timeout(timeout_s)`` per attempt, on top of the transport's own, and
   ``budget_s`` for the call as a whole: no retry starts (after its backoff) past the budget and
   an attempt's timeout is cut to what is left, so a slow upstream is a 503 from the service,
   not the gateway's route timeout (30 s, which three 10 s Salesforce attempts would reach, and
   the customer would get Envoy's 504 after 30 s).
5. **telemetry**: ``UPSTREAM_CALLS`` (outcome ``ok``/``error``/``unavailable``/``breaker_open``)
   and ``UPSTREAM_LATENCY`` per attempt, ``UPSTREAM_BREAKER_OPEN`` on state changes (1 while any
   breaker of the system in this process is open: commerce holds two Salesforce clients, the
   request path's and the fulfillment worker's), and one
   ``upstream_call_failed`` log line per failed attempt with system/operation/outcome (never
   request parameters, so never secrets).

Business errors (a typed :class:`PortalError` other than ``UpstreamUnavailable``) mean the upstream
answered: they count as ``error`` but as a success for the breaker, and are never retried.
Any other exception escaping a client's call is an unexpected answer and becomes
``UpstreamUnavailable`` (logged with its type), so callers only ever see typed errors.
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from prometheus_client import Counter, Histogram
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity import wait_random_exponential as full_jitter
from tenacity.stop import stop_base

from services.common.breaker import OPEN, CircuitBreaker
from services.common.context import rpc_method
from services.common.errors import PortalError, UpstreamUnavailable
from services.common.metrics import (
    UPSTREAM_BREAKER_OPEN,
    UPSTREAM_CALLS,
    UPSTREAM_CALLS_BY_RPC,
    UPSTREAM_LATENCY,
)

T = TypeVar("T")
log = structlog.get_logger("upstream")
# The open breakers of each system in this process (weak: a client that is gone counts no more).
_OPEN: defaultdict[str, weakref.WeakSet[Upstream]] = defaultdict(weakref.WeakSet)


@dataclass(frozen=True)
class Policy:
    """Resilience knobs of one upstream (defaults suit a request path behind a 15 s RPC)."""

    timeout_s: float = 5.0
    read_attempts: int = 3  # total attempts of an idempotent call
    budget_s: float = 20.0  # one call with all its attempts (below the gateway's 30 s)
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 2.0
    breaker_threshold: int = 5  # consecutive unavailable outcomes that open the breaker
    breaker_cooldown_s: float = 30.0
    max_concurrency: int = 16


class BreakerOpen(UpstreamUnavailable):
    """The upstream's breaker is open: failed fast without calling it."""


class Unreachable(UpstreamUnavailable):
    """The upstream did not answer usefully; ``detail`` (e.g. ``"HTTP 503"``) is for the log only,
    the end user sees the generic "try again later" message."""

    def __init__(self, detail: str) -> None:
        super().__init__()
        self.detail = detail


class Upstream:
    """Resilient calls to one system of record (see the module docstring)."""

    def __init__(
        self, system: str, policy: Policy, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.system = system
        self.policy = policy
        self.breaker = CircuitBreaker(
            policy.breaker_threshold,
            policy.breaker_cooldown_s,
            clock=clock,
            on_change=_weak_hook(self),
        )
        self._limit = asyncio.Semaphore(policy.max_concurrency)
        self._series: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self._publish_breaker()

    async def call(
        self, operation: str, fn: Callable[[], Awaitable[T]], *, idempotent: bool = False
    ) -> T:
        """Run ``fn`` (one attempt each time it is called) under the policy. The first attempt
        runs directly; tenacity takes over only when an idempotent call is to be retried."""
        p = self.policy
        deadline = time.monotonic() + p.budget_s
        attempts = p.read_attempts if idempotent else 1
        try:
            return await self._once(operation, fn, 1, deadline)
        except UpstreamUnavailable as exc:
            if attempts < 2 or not _retryable(exc):
                raise
            pause = random.uniform(0, min(p.backoff_max_s, p.backoff_initial_s))
            if time.monotonic() + pause >= deadline:
                raise
        await asyncio.sleep(pause)
        # Attempts 2..n: tenacity's attempt k is ours k + 1, so its full-jitter backoff uses twice
        # the multiplier (after our attempt n the pause is up to initial * 2 ** (n - 1)).
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts - 1) | _Past(deadline),
            wait=full_jitter(multiplier=2 * p.backoff_initial_s, max=p.backoff_max_s),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                number = attempt.retry_state.attempt_number + 1
                return await self._once(operation, fn, number, deadline)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def _once(
        self, operation: str, fn: Callable[[], Awaitable[T]], attempt: int, deadline: float
    ) -> T:
        if not self.breaker.allow():
            self._record(operation, "breaker_open", None, attempt, "breaker open")
            raise BreakerOpen()
        started = time.perf_counter()
        timeout = min(self.policy.timeout_s, max(deadline - time.monotonic(), 0.0))
        try:
            async with self._limit, asyncio.timeout(timeout):
                result = await fn()
        except UpstreamUnavailable as exc:
            self.breaker.failure()
            self._record(operation, "unavailable", started, attempt, _describe(exc))
            raise
        except TimeoutError:
            self.breaker.failure()
            self._record(operation, "unavailable", started, attempt, "timeout")
            raise UpstreamUnavailable() from None
        except PortalError as exc:
            self.breaker.success()
            self._record(operation, "error", started, attempt, _describe(exc))
            raise
        except asyncio.CancelledError:
            self.breaker.abandon()
            raise
        except Exception as exc:
            self.breaker.failure()
            self._record(operation, "unavailable", started, attempt, type(exc).__name__)
            raise UpstreamUnavailable() from exc
        self.breaker.success()
        self._record(operation, "ok", started, attempt, None)
        return result

    def record(self, operation: str, outcome: str, why: str | None = None) -> None:
        """Count (and log, unless ``ok``) an outcome of something that is not a single call,
        e.g. a long-lived stream ending or reconnecting."""
        self._record(operation, outcome, None, 0, why)

    def _record(
        self, operation: str, outcome: str, started: float | None, attempt: int, why: str | None
    ) -> None:
        series = self._series.get((operation, outcome))
        if series is None:  # the metrics' children, looked up once per operation and outcome
            series = self._series[operation, outcome] = (
                UPSTREAM_CALLS.labels(self.system, operation, outcome),
                UPSTREAM_LATENCY.labels(self.system, operation),
            )
        series[0].inc()
        if started is not None:  # a call was made (not refused by the breaker)
            UPSTREAM_CALLS_BY_RPC.labels(self.system, rpc_method.get() or "background").inc()
            series[1].observe(time.perf_counter() - started)
        if outcome != "ok":
            log.warning(
                "upstream_call_failed",
                system=self.system,
                operation=operation,
                outcome=outcome,
                attempt=attempt,
                error=why,
            )

    def _breaker_changed(self, state: str) -> None:
        if state == OPEN:
            _OPEN[self.system].add(self)
        else:
            _OPEN[self.system].discard(self)
        self._publish_breaker()
        log.warning("upstream_breaker_changed", system=self.system, state=state)

    def close(self) -> None:
        """The client is closed: its breaker no longer counts in the gauge."""
        _OPEN[self.system].discard(self)
        self._publish_breaker()

    def _publish_breaker(self) -> None:
        UPSTREAM_BREAKER_OPEN.labels(self.system).set(1 if _OPEN[self.system] else 0)


def _weak_hook(upstream: Upstream) -> Callable[[str], None]:
    """The breaker's state hook without a reference cycle, so a client that is dropped leaves
    ``_OPEN`` at once (not at the next garbage collection)."""
    ref = weakref.ref(upstream)

    def changed(state: str) -> None:
        target = ref()
        if target is not None:
            target._breaker_changed(state)

    return changed


class _Past(stop_base):
    """Stop when the next attempt would start (after its backoff) at or past ``deadline``."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return time.monotonic() + (retry_state.upcoming_sleep or 0.0) >= self.deadline


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, UpstreamUnavailable) and not isinstance(exc, BreakerOpen)


def _describe(exc: BaseException) -> str:
    """Class name plus the upstream's own code/detail for rejections (never request data)."""
    detail = getattr(exc, "upstream_code", "") or getattr(exc, "detail", "") or ""
    return f"{type(exc).__name__} {detail}".strip()
