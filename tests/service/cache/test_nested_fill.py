"""A fill made on behalf of a caller who holds the key's lock: billing caches identity's account
links under identity's own key, so billing takes the fill lock and then asks identity, which fills
the same key. Identity fills without the lock (``fill_lock=False``); before, it waited for
billing's lock for the full ``lock_wait`` (1 s) on every cold read (found by the soak: the first
``GET /v1/invoices`` of every user took ~1 s).

The caches here wait an hour for a foreign lock: waiting at all would hang the test (and the
suite's timeout would fail it), so the assertions are about outcomes, not durations."""

from __future__ import annotations

from portal.billing.v1 import billing_pb2
from redis.asyncio import Redis

from services.common.cache import UserScope, policy
from services.common.cache.keys import keys_for, schema_hash

MSG = billing_pb2.ListInvoicesResponse
ENTRY = policy.ACCOUNT_LINKS_USER


async def test_a_fill_without_the_lock_ignores_a_held_lock(make_cache, loader, redis_proc, uid):
    cache, load, scope = make_cache(lock_wait=3600.0), loader(), UserScope(uid)
    schema = schema_hash(MSG, ENTRY.version)
    keys = keys_for(cache.namespace, ENTRY, scope, schema, cluster=False)
    raw = Redis.from_url(redis_proc.url)
    try:
        await raw.set(keys.lock, "the-caller", px=60_000)
        got = await cache.get_or_load(ENTRY, scope, load, MSG, fill_lock=False)
        assert load.calls == 1 and got.invoices[0].number == "v1"
        assert await raw.get(keys.lock) == b"the-caller"  # the caller's lock is left alone
        again = await cache.get_or_load(ENTRY, scope, load, MSG, fill_lock=False)
        assert again == got and load.calls == 1  # and the value was stored
    finally:
        await raw.aclose()


async def test_a_lock_holder_can_have_its_key_filled_by_the_one_it_asks(make_cache, loader, uid):
    billing = make_cache(lock_wait=3600.0, lock_ttl=3600.0)  # its lock outlives any wait
    identity = make_cache(lock_wait=3600.0)
    scope, from_postgres = UserScope(uid), loader("links")

    async def ask_identity() -> billing_pb2.ListInvoicesResponse:
        return await identity.get_or_load(ENTRY, scope, from_postgres, MSG, fill_lock=False)

    first = await billing.get_or_load(ENTRY, scope, ask_identity, MSG)
    assert first.invoices[0].number == "links1" and from_postgres.calls == 1
    # Cached for both afterwards.
    assert await billing.get_or_load(ENTRY, scope, ask_identity, MSG) == first
    assert await identity.get_or_load(ENTRY, scope, from_postgres, MSG) == first
    assert from_postgres.calls == 1
