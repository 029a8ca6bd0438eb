"""What the cache keeps inside the process does not grow with the number of users it has served
(real Redis): reads by ever new users fill Redis, not the service's memory."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from typing import Any

from portal.billing.v1 import billing_pb2

from services.common.cache import UserScope, keys, policy

MSG = billing_pb2.ListInvoicesResponse
USERS = 2048  # per round
ENTRIES = (policy.INVOICES_LIST, policy.PAYMENT_METHODS)


async def read_as_new_users(cache: Any, load: Any, first: int) -> None:
    """One read of each entry by each of ``USERS`` users never seen before, 32 at a time."""
    for start in range(first, first + USERS, 32):
        await asyncio.gather(
            *(
                cache.get_or_load(entry, UserScope(f"memory-user-{n}"), load, MSG)
                for n in range(start, start + 32)
                for entry in ENTRIES
            )
        )


async def test_reads_by_new_users_do_not_grow_the_process_memory(make_cache, loader) -> None:
    cache, load = make_cache(), loader()
    # Traced from the first round on, so what the second round lets go of counts too.
    tracemalloc.start()
    try:
        await read_as_new_users(cache, load, 0)  # warm: connections, imports, memos filled
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        await read_as_new_users(cache, load, USERS)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert load.calls == 2 * USERS * len(ENTRIES)  # every read was a first read: all loaded
    # Each remembered key set is ~1.5 KiB: 4,096 more of them would be ~6 MiB.
    assert grown < 256 * 1024, f"{grown / 1024:.0f} KiB kept after {USERS} more users"


def test_the_key_memo_at_its_bound_stays_small() -> None:
    # keys_for remembers KEYS_MEMO key sets (least recently used out): ever new users fill it to
    # the bound and no further, and the bound's worth is well under a MiB.
    keys.keys_for.cache_clear()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(2 * keys.KEYS_MEMO):
            for entry in ENTRIES:
                keys.keys_for("ns", entry, UserScope(f"memo-user-{n}"), "s1", cluster=False)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert keys.keys_for.cache_info().currsize == keys.KEYS_MEMO
    assert held < 512 * 1024, f"{held / 1024:.0f} KiB for {keys.KEYS_MEMO} key sets"
