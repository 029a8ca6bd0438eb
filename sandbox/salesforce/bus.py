"""The event bus behind Pub/Sub: retained events with monotonic replay ids, per-topic reads."""

from __future__ import annotations

import asyncio
import bisect
import time
from dataclasses import dataclass

REPLAY_BYTES = 8


@dataclass(frozen=True)
class BusEvent:
    replay: int
    topics: frozenset[str]
    event_id: str
    schema_id: str
    payload: bytes
    at: float  # monotonic time of publication


class CorruptReplayId(ValueError):
    pass


def replay_bytes(value: int) -> bytes:
    return value.to_bytes(REPLAY_BYTES, "big")


class EventBus:
    def __init__(self, retention_s: float, start: int = 4_200_000) -> None:
        self.retention_s = retention_s
        self.events: list[BusEvent] = []
        self._ids: list[int] = []
        self.last = start  # last replay id issued
        self.floor = start  # ids below this are gone (pruned or before a reset)
        self._listeners: set[asyncio.Event] = set()

    def listen(self, event: asyncio.Event) -> None:
        self._listeners.add(event)

    def unlisten(self, event: asyncio.Event) -> None:
        self._listeners.discard(event)

    def _wake(self) -> None:
        for event in self._listeners:
            event.set()

    def publish(self, topics: frozenset[str], event_id: str, schema_id: str, payload: bytes) -> int:
        self.last += 1
        self.events.append(
            BusEvent(self.last, topics, event_id, schema_id, payload, time.monotonic())
        )
        self._ids.append(self.last)
        self._prune()
        self._wake()
        return self.last

    def clear(self) -> None:
        self.events.clear()
        self._ids.clear()
        self.floor = self.last
        self._wake()

    def _prune(self) -> None:
        horizon = time.monotonic() - self.retention_s
        n = 0
        while n < len(self.events) and self.events[n].at < horizon:
            n += 1
        if n:
            self.floor = self.events[n - 1].replay
            del self.events[:n]
            del self._ids[:n]

    def earliest_cursor(self) -> int:
        self._prune()
        return self.floor

    def parse_replay(self, raw: bytes) -> int:
        """Validate a CUSTOM replay id; the cursor delivers events strictly after it."""
        self._prune()
        if len(raw) != REPLAY_BYTES:
            raise CorruptReplayId("replay id is not a valid replay id")
        value = int.from_bytes(raw, "big")
        if value < self.floor or value > self.last:
            raise CorruptReplayId(f"replay id {raw.hex()} is outside the retention window")
        return value

    def after(self, topic: str, cursor: int, limit: int) -> list[BusEvent]:
        out: list[BusEvent] = []
        start = bisect.bisect_right(self._ids, cursor)
        for event in self.events[start:]:
            if len(out) >= limit:
                break
            if topic in event.topics:
                out.append(event)
        return out
