"""One Subscribe stream of the sandbox's Pub/Sub: pull flow control, keep-alives, idle close.

The rules (docs/contracts/salesforce.md "Pub/Sub"): demand is the sum of ``num_requested`` minus
what was delivered, capped at ``MAX_PENDING``; a keep-alive (empty FetchResponse) is sent only
while demand is pending; a stream without demand for ``idle_close_s`` is closed by the server
(status OK); a later FetchRequest naming another topic, or asking for ≤ 0 events, fails the stream
with INVALID_ARGUMENT.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
from eventbus.v1 import pubsub_api_pb2 as pb

from .bus import BusEvent, replay_bytes

if TYPE_CHECKING:
    from .server import SalesforceState

MAX_PENDING = 100  # "the maximum number of events that can be requested across all FetchRequests"
POLL_S = 0.1  # how often an idle stream looks for drop faults
STREAM_DROP = frozenset({"drop_stream"})
UNAVAILABLE = "sfdc.platform.eventbus.grpc.service.unavailable"
INVALID_REQUEST = "sfdc.platform.eventbus.grpc.subscription.fetch.invalid.request"
TOPIC_MISMATCH = "sfdc.platform.eventbus.grpc.subscription.topic.mismatch"


class StreamRefused(Exception):
    """A FetchRequest the server refuses: the stream ends with this status and error code."""

    def __init__(self, code: grpc.StatusCode, error_code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.error_code, self.message = code, error_code, message


def check_requested(num_requested: int) -> None:
    if num_requested <= 0:
        raise StreamRefused(
            grpc.StatusCode.INVALID_ARGUMENT,
            INVALID_REQUEST,
            f"num_requested must be greater than 0 (got {num_requested})",
        )


class Stream:
    """State of one Subscribe call after its first FetchRequest was accepted."""

    def __init__(self, state: SalesforceState, topic: str, requested: int) -> None:
        self.state = state
        self.topic = topic
        self.pending = min(requested, MAX_PENDING)
        self.cursor = 0
        self.wake = asyncio.Event()
        self.refused: StreamRefused | None = None
        self.last_request = time.monotonic()

    def add_demand(self, req: pb.FetchRequest) -> None:
        if req.topic_name and req.topic_name != self.topic:
            raise StreamRefused(
                grpc.StatusCode.INVALID_ARGUMENT,
                TOPIC_MISMATCH,
                f"The topic {req.topic_name} does not match the stream's topic {self.topic}",
            )
        check_requested(req.num_requested)
        self.pending = min(self.pending + req.num_requested, MAX_PENDING)
        self.last_request = time.monotonic()

    async def read(self, requests: AsyncIterator[pb.FetchRequest]) -> None:
        try:
            async for req in requests:
                self.add_demand(req)
                self.wake.set()
        except StreamRefused as exc:
            self.refused = exc
            self.wake.set()

    def _dropped(self) -> bool:
        control = self.state.control
        if control.peek_take("pubsub:Subscribe", modes=STREAM_DROP) is not None:
            return True
        unavailable = control.peek_take("pubsub:Subscribe", modes=frozenset({"unavailable"}))
        return unavailable is not None and bool(unavailable.action)

    async def responses(self) -> AsyncIterator[pb.FetchResponse]:
        """Responses until the server ends the stream (idle close) or refuses a request."""
        settings = self.state.settings
        last_sent = time.monotonic()
        while True:
            if self.refused is not None:
                raise self.refused
            if self._dropped():
                raise StreamRefused(
                    grpc.StatusCode.UNAVAILABLE, UNAVAILABLE, "The stream was closed by the server"
                )
            if self.pending > 0 and (batch := self._next_batch()):
                yield self._response(batch)
                last_sent = time.monotonic()
                continue
            now = time.monotonic()
            if self.pending == 0:
                quiet = now - max(last_sent, self.last_request)
                if quiet >= settings.idle_close_s:
                    return  # no demand for too long: the server completes the call
                wait = settings.idle_close_s - quiet
            else:
                idle = now - last_sent
                if idle >= settings.keepalive_s:
                    yield self._keepalive()
                    last_sent = time.monotonic()
                    continue
                wait = settings.keepalive_s - idle
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), min(POLL_S, wait))

    def _next_batch(self) -> list[BusEvent]:
        batch = self.state.bus.after(self.topic, self.cursor, self.pending)
        if not batch:
            return batch
        before = self.cursor
        self.cursor = batch[-1].replay
        self.pending -= len(batch)
        control = self.state.control
        if control.peek_take("pubsub:Subscribe", modes=frozenset({"duplicate_delivery"})):
            self.cursor = before  # at-least-once: the same events come again
        return batch

    def _keepalive(self) -> pb.FetchResponse:
        return pb.FetchResponse(
            latest_replay_id=replay_bytes(self.cursor),
            rpc_id=str(uuid.uuid4()),
            pending_num_requested=self.pending,
        )

    def _response(self, batch: list[BusEvent]) -> pb.FetchResponse:
        events = [
            pb.ConsumerEvent(
                event=pb.ProducerEvent(id=e.event_id, schema_id=e.schema_id, payload=e.payload),
                replay_id=replay_bytes(e.replay),
            )
            for e in batch
        ]
        return pb.FetchResponse(
            events=events,
            latest_replay_id=replay_bytes(batch[-1].replay),
            rpc_id=str(uuid.uuid4()),
            pending_num_requested=self.pending,
        )
