"""Commerce's CDC consumer hands the events that arrived together to the handlers as one batch:
fulfillment's intake commits the batch's rows (one statement for the approvals), and the
consumer stores the batch's last replay id once, only after every handler finished the batch.

The events come from a scripted stream (decoded ``ChangeEvent``s, the Pub/Sub client's output)
so the batches are exactly the ones the test sends; Postgres, the intake and the consumer are
the real ones."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.commerce import repo as commerce_repo
from services.commerce.cdc import Consumer, Dispatcher
from services.commerce.fulfillment.cdc_intake import FulfillmentIntake
from services.commerce.fulfillment.deps import Deps
from services.commerce.fulfillment.settings import FulfillmentSettings
from services.common.clients.cdc import ChangeEvent, KeepAlive
from tests.service.fulfillment.conftest import _clients

TOPIC = "/data/OrderChangeEvent"


def _event(n: int, order_id: str, fields: dict[str, Any]) -> ChangeEvent:
    return ChangeEvent(
        entity="Order", change_type="UPDATE", record_ids=(order_id,),
        changed_fields=tuple(fields), nulled_fields=(), diff_fields=(), transaction_key=f"t{n}",
        sequence=1, commit_timestamp=datetime.now(UTC), commit_number=n, change_origin="",
        commit_user="", fields=fields, replay_id=f"{n:08d}".encode(), topic=TOPIC,
    )  # fmt: skip


def approved(n: int, order_id: str) -> ChangeEvent:
    return _event(n, order_id, {"Status": "Approved"})


def activating(n: int, order_id: str) -> ChangeEvent:
    return _event(n, order_id, {"Activation_Status__c": "Activating"})


class ScriptedStream:
    """A Pub/Sub client whose stream yields what the test puts, after the stored position."""

    def __init__(self) -> None:
        self.items: asyncio.Queue[ChangeEvent | KeepAlive] = asyncio.Queue()
        self.subscribed_from: list[bytes | None] = []

    def send(self, *items: ChangeEvent | KeepAlive) -> None:
        for item in items:
            self.items.put_nowait(item)

    async def subscribe(
        self, topic: str, replay_from: bytes | None = None, *, batch: int = 100
    ) -> AsyncIterator[ChangeEvent | KeepAlive]:
        self.subscribed_from.append(replay_from)
        while True:
            item = await self.items.get()
            if isinstance(item, ChangeEvent) and replay_from and item.replay_id <= replay_from:
                continue  # the server resumes after the stored position
            yield item


class RecordingConsumer(Consumer):
    """The real consumer; every replay-id write is also noted, with what was committed then."""

    def __init__(self, url: str, stream: ScriptedStream, dispatcher: Dispatcher, pool: Any):
        super().__init__(url, stream, dispatcher, standby_retry_s=0.1)  # type: ignore[arg-type]
        self.pool = pool
        self.stored: list[tuple[bytes, set[str]]] = []

    async def _store(self, topic: str, replay: bytes) -> None:
        rows = await self.pool.fetch("SELECT sf_order_id FROM commerce.fulfillments")
        await super()._store(topic, replay)
        # Noted once written: a test that stops the consumer when it sees the note finds the
        # replay id in the database too.
        self.stored.append((replay, {r["sf_order_id"] for r in rows}))


class FailingOnce:
    """A second Order handler that fails on the batch holding ``order_id`` ``times`` times."""

    def __init__(self, order_id: str, times: int) -> None:
        self.order_id, self.left = order_id, times
        self.failed = asyncio.Event()

    async def handle_batch(self, events: Sequence[ChangeEvent]) -> None:
        if self.left and any(self.order_id in e.record_ids for e in events):
            self.left -= 1
            self.failed.set()
            raise ConnectionError("handler down")

    async def handle(self, event: ChangeEvent) -> None:
        await self.handle_batch([event])

    async def reset(self, entity: str) -> None:
        return None

    async def fresh_start(self, entity: str) -> None:
        return None


@contextlib.asynccontextmanager
async def running(
    database_url: str, pool: asyncpg.Pool, deps: Deps, stream: ScriptedStream, *more: Any
) -> AsyncIterator[tuple[RecordingConsumer, list[str]]]:
    handed: list[str] = []

    async def hand(order_ids: list[str]) -> None:
        handed.extend(order_ids)

    dispatcher = Dispatcher(retry_initial_s=0.05, retry_max_s=0.1)
    dispatcher.subscribe("Order", FulfillmentIntake(deps, hand))
    for handler in more:
        dispatcher.subscribe("Order", handler)
    consumer = RecordingConsumer(database_url, stream, dispatcher, pool)
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(consumer.leading.wait(), 10)
        yield consumer, handed
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _until(check: Any, within: float = 10.0) -> None:
    for _ in range(int(within / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {within} s")


async def _deps(pool: asyncpg.Pool, sandboxes: Any, directory_target: str) -> Deps:
    clients = _clients(sandboxes, directory_target)
    return Deps(FulfillmentSettings(), pool, clients.salesforce, clients.whmcs, clients.freebit,
                clients.directory)  # fmt: skip


async def _stored(pool: asyncpg.Pool) -> bytes | None:
    return await commerce_repo.replay_id(pool, TOPIC)


async def test_a_batch_commits_its_rows_then_stores_its_last_replay_id_once(
    portal: Any, pool: asyncpg.Pool, database_url: str, sandboxes: Any, directory_target: str
) -> None:
    deps = await _deps(pool, sandboxes, directory_target)
    stream = ScriptedStream()
    # Sent before the consumer reads: one batch of 6 events, 4 of them approvals (one order's
    # approval twice: redelivery), the others changes the intake has nothing to do for.
    stream.send(approved(1, "801A"), approved(2, "801B"), activating(3, "801A"),
                approved(4, "801C"), approved(5, "801B"), activating(6, "801B"))  # fmt: skip
    async with running(database_url, pool, deps, stream) as (consumer, handed):
        await _until(lambda: consumer.stored)
        stream.send(KeepAlive(b"00000009", TOPIC))
        await _until(lambda: len(consumer.stored) == 2)
    assert consumer.stored[0] == (b"00000006", {"801A", "801B", "801C"})  # rows before the id
    assert consumer.stored[1][0] == b"00000009"  # a later keep-alive moves the position
    assert await _stored(pool) == b"00000009"
    assert handed == ["801A", "801B", "801C"]
    rows = await pool.fetch("SELECT sf_order_id, state FROM commerce.fulfillments")
    assert sorted((r["sf_order_id"], r["state"]) for r in rows) == [
        ("801A", "activating"),
        ("801B", "activating"),
        ("801C", "activating"),
    ]


async def test_a_failure_mid_batch_stores_no_later_replay_id_and_redelivery_is_harmless(
    portal: Any, pool: asyncpg.Pool, database_url: str, sandboxes: Any, directory_target: str
) -> None:
    deps = await _deps(pool, sandboxes, directory_target)
    stream = ScriptedStream()
    # The second handler fails (forever) on the batch holding 801E: the intake's rows of that
    # batch are committed, but its replay id is never stored while the batch is not finished.
    broken = FailingOnce("801E", times=1_000)
    stream.send(approved(1, "801D"))
    async with running(database_url, pool, deps, stream, broken) as (consumer, _):
        await _until(lambda: consumer.stored)
        stream.send(approved(2, "801E"), approved(3, "801F"))
        await asyncio.wait_for(broken.failed.wait(), 10)
        await asyncio.sleep(0.3)  # a few retries
        assert [replay for replay, _ in consumer.stored] == [b"00000001"]
    # The process dies there: the position is the one before the failed batch.
    assert await _stored(pool) == b"00000001"

    # A restart: the stream resumes after the stored position, redelivers the failed batch,
    # which now goes through; the rows already committed are not duplicated.
    healed = FailingOnce("801E", times=1)
    stream2 = ScriptedStream()
    stream2.send(approved(1, "801D"), approved(2, "801E"), approved(3, "801F"))
    async with running(database_url, pool, deps, stream2, healed) as (consumer2, handed2):
        await _until(lambda: consumer2.stored)
        assert stream2.subscribed_from[0] == b"00000001"
        assert healed.failed.is_set()  # it failed once, and the batch was handed again whole
    assert [replay for replay, _ in consumer2.stored] == [b"00000003"]
    assert await _stored(pool) == b"00000003"
    assert sorted(handed2) == ["801E", "801F"]  # the intake finished it; only the other retried
    count = await pool.fetchval("SELECT count(*) FROM commerce.fulfillments")
    assert count == 3
