"""The cache against a real Redis: hits, TTLs, invalidation, schemas, single-flight, locks."""

from __future__ import annotations

import asyncio
import time

import pytest
from portal.billing.v1 import billing_pb2
from redis.asyncio import Redis

from services.common.cache import NO_VARIANT, SHARED_CATALOG, UserScope, Variant, policy
from services.common.cache.keys import keys_for, schema_hash
from services.common.context import rpc_method
from services.common.metrics import value

MSG = billing_pb2.ListInvoicesResponse


def requests(entry: str, result: str) -> float:
    return value("portal_cache_requests_total", {"entry": entry, "result": result})


@pytest.fixture
async def raw(redis_proc):
    client = Redis.from_url(redis_proc.url)
    yield client
    await client.aclose()


NS = "test-ns"


@pytest.fixture
def namespace() -> str:
    """One fixed namespace for this module, so ``value_key`` names what its caches write."""
    return NS


def value_key(entry, scope, variant=NO_VARIANT, message=MSG) -> str:
    schema = schema_hash(message, entry.version)
    return keys_for(NS, entry, scope, schema, variant, cluster=False).value


async def test_second_read_is_a_hit_with_the_same_message(make_cache, loader, uid) -> None:
    cache, load = make_cache(), loader()
    hits = requests("invoices.list", "hit")
    first = await cache.get_or_load(policy.INVOICES_LIST, UserScope(uid), load, MSG)
    second = await cache.get_or_load(policy.INVOICES_LIST, UserScope(uid), load, MSG)
    assert load.calls == 1 and second == first and second.invoices[0].number == "v1"
    assert requests("invoices.list", "hit") == hits + 1


@pytest.mark.parametrize(
    "entry", [policy.INVOICES_LIST, policy.INVOICE_DETAIL, policy.PAYMENT_GATEWAYS]
)
async def test_values_expire_after_the_policy_ttl(make_cache, loader, raw, uid, entry) -> None:
    cache = make_cache()
    await cache.get_or_load(entry, UserScope(uid), loader(), MSG, variant=Variant.of(page=1))
    ttl_ms = await raw.pttl(value_key(entry, UserScope(uid), Variant.of(page=1)))
    assert entry.ttl * 1000 - 2000 < ttl_ms <= entry.ttl * 1000


async def test_shared_catalog_uses_the_safety_ttl_and_no_user(make_cache, loader, raw) -> None:
    cache, load = make_cache(), loader()
    await cache.invalidate(SHARED_CATALOG, policy.CATALOG)  # a clean generation for this test
    await cache.get_or_load(policy.CATALOG_PRODUCTS, SHARED_CATALOG, load, MSG)
    await cache.get_or_load(policy.CATALOG_PRODUCTS, SHARED_CATALOG, load, MSG)
    key = value_key(policy.CATALOG_PRODUCTS, SHARED_CATALOG)
    assert key.startswith(f"{NS}:shared:{{catalog}}:") and load.calls == 1
    assert await raw.ttl(key) > 12 * 3600 - 5
    await cache.invalidate_all(policy.CATALOG)
    await cache.get_or_load(policy.CATALOG_PRODUCTS, SHARED_CATALOG, load, MSG)
    assert load.calls == 2


async def test_invalidate_drops_every_page_of_one_user_only(make_cache, loader, uid) -> None:
    cache, alice, bob = make_cache(), UserScope(uid + "a"), UserScope(uid + "b")
    loads = {name: loader(name) for name in ("a", "b", "pm")}

    async def read_all() -> None:
        for page in (Variant.of(page=n) for n in (1, 2, 3)):
            await cache.get_or_load(policy.INVOICES_LIST, alice, loads["a"], MSG, variant=page)
            await cache.get_or_load(policy.INVOICES_LIST, bob, loads["b"], MSG, variant=page)
        await cache.get_or_load(policy.PAYMENT_METHODS, alice, loads["pm"], MSG)

    await read_all()
    assert await cache.invalidate(alice, policy.INVOICES)
    await read_all()
    assert (loads["a"].calls, loads["b"].calls, loads["pm"].calls) == (6, 3, 1)


async def test_invalidate_several_families_at_once(make_cache, loader, uid) -> None:
    cache, scope, prof, subs = make_cache(), UserScope(uid), loader(), loader()
    for _ in range(2):
        await cache.get_or_load(policy.WHMCS_PROFILE, scope, prof, MSG)
        await cache.get_or_load(policy.SUBSCRIPTIONS_LIST, scope, subs, MSG)
    await cache.invalidate(scope, policy.PROFILE, policy.SUBSCRIPTIONS)
    await cache.get_or_load(policy.WHMCS_PROFILE, scope, prof, MSG)
    await cache.get_or_load(policy.SUBSCRIPTIONS_LIST, scope, subs, MSG)
    assert (prof.calls, subs.calls) == (2, 2)


async def test_invalidate_all_drops_the_family_for_every_user(make_cache, loader, uid) -> None:
    cache, orders, links = make_cache(), loader(), loader()
    users = [UserScope(f"{uid}-{i}") for i in range(3)]
    for _ in range(2):
        for user in users:
            await cache.get_or_load(policy.ORDERS_LIST, user, orders, MSG)
            await cache.get_or_load(policy.ACCOUNT_LINKS_USER, user, links, MSG)
    assert (orders.calls, links.calls) == (3, 3)
    assert await cache.invalidate_all(policy.ORDERS)
    for user in users:
        await cache.get_or_load(policy.ORDERS_LIST, user, orders, MSG)
        await cache.get_or_load(policy.ACCOUNT_LINKS_USER, user, links, MSG)
    assert (orders.calls, links.calls) == (6, 3)


async def test_a_changed_message_schema_never_reads_old_bytes(make_cache, loader, uid) -> None:
    cache, scope = make_cache(), UserScope(uid)
    await cache.get_or_load(policy.PAYMENT_METHODS, scope, loader(), MSG)
    calls = 0

    async def new_loader() -> billing_pb2.ListPaymentMethodsResponse:
        nonlocal calls
        calls += 1
        return billing_pb2.ListPaymentMethodsResponse()

    other = billing_pb2.ListPaymentMethodsResponse
    got = await cache.get_or_load(policy.PAYMENT_METHODS, scope, new_loader, other)
    assert calls == 1 and isinstance(got, other)
    assert value_key(policy.PAYMENT_METHODS, scope) != value_key(
        policy.PAYMENT_METHODS, scope, message=other
    )


async def test_200_concurrent_misses_make_one_upstream_call(make_cache, loader, uid) -> None:
    cache, load = make_cache(), loader(delay=0.05)
    # Connected first, as a service does at start-up: a cold client serves live (``bypass``)
    # while its first connection is made, which on a loaded machine can be the whole storm.
    assert await cache.connect()
    outcomes = ("miss", "error", "bypass")
    before = {o: requests("invoices.detail", o) for o in outcomes}
    results = await asyncio.gather(
        *(
            cache.get_or_load(
                policy.INVOICE_DETAIL, UserScope(uid), load, MSG, variant=Variant.of(number=42)
            )
            for _ in range(200)
        )
    )
    assert load.calls == 1 and {r.invoices[0].number for r in results} == {"v1"}
    counted = {o: requests("invoices.detail", o) - before[o] for o in outcomes}
    # Every request counted once and none was a hit; a read that timed out on a loaded box is an
    # "error" and still joins the one load.
    assert sum(counted.values()) == 200 and counted["miss"] > 0, counted


async def test_two_processes_share_one_upstream_call(make_cache, loader, uid) -> None:
    one, two, load = make_cache(), make_cache(), loader(delay=0.2)
    # Connected first, as a service does at start-up: a cold cache serves live (``bypass``) when
    # its first connection takes longer than its deadline (a garbage collection of this test
    # process alone can: ~100 ms), and two live loads are not what this test is about.
    assert await one.connect() and await two.connect()
    scope = UserScope(uid)
    results = await asyncio.gather(
        *(
            cache.get_or_load(
                policy.SUBSCRIPTION_DETAIL, scope, load, MSG, variant=Variant.of(number=7)
            )
            for cache in (one, two)
            for _ in range(20)
        )
    )
    assert load.calls == 1 and len({r.invoices[0].number for r in results}) == 1


async def test_a_lock_holder_that_never_fills_is_waited_for_only_lock_wait(
    make_cache, loader, raw, uid
) -> None:
    cache, load, scope = make_cache(lock_wait=0.3), loader(), UserScope(uid)
    schema = schema_hash(MSG, policy.INVOICES_LIST.version)
    keys = keys_for(NS, policy.INVOICES_LIST, scope, schema, cluster=False)
    await raw.set(keys.lock, "someone-else", px=5000)
    start = time.perf_counter()
    await cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG)
    elapsed = time.perf_counter() - start
    assert load.calls == 1 and 0.28 < elapsed < 1.0
    await cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG)
    assert load.calls == 1  # it did cache what it loaded


async def test_loader_errors_propagate_unchanged_and_are_not_cached(
    make_cache, loader, raw, uid
) -> None:
    cache, scope = make_cache(lock_wait=2.0), UserScope(uid)
    failing = loader(delay=0.02, fail=PermissionError("upstream says no"))
    results = await asyncio.gather(
        *(cache.get_or_load(policy.WHMCS_PROFILE, scope, failing, MSG) for _ in range(10)),
        return_exceptions=True,
    )
    assert failing.calls == 1
    assert all(isinstance(r, PermissionError) and str(r) == "upstream says no" for r in results)
    assert await raw.get(value_key(policy.WHMCS_PROFILE, scope)) is None
    other, good = make_cache(lock_wait=2.0), loader()
    start = time.perf_counter()
    await other.get_or_load(policy.WHMCS_PROFILE, scope, good, MSG)
    assert good.calls == 1 and time.perf_counter() - start < 0.5  # the lock was released


async def test_a_load_that_raced_an_invalidation_is_not_served(make_cache, loader, uid) -> None:
    cache, scope, slow = make_cache(), UserScope(uid), loader("old", delay=0.2)
    pending = asyncio.create_task(cache.get_or_load(policy.INVOICES_LIST, scope, slow, MSG))
    await asyncio.sleep(0.05)
    await cache.invalidate(scope, policy.INVOICES)  # a write lands while the old read loads
    await pending
    fresh = loader("new")
    got = await cache.get_or_load(policy.INVOICES_LIST, scope, fresh, MSG)
    assert got.invoices[0].number == "new1"


async def test_namespaces_on_one_redis_are_isolated_both_ways(make_cache, loader, uid) -> None:
    """Two deployments on one Redis (``make run`` and a test run): neither reads the other's
    values nor drops them, for the shared catalog and for a user's family alike."""
    dev, test = make_cache(namespace="dev-ns"), make_cache(namespace="test-ns2")
    scope = UserScope(uid)
    await dev.invalidate(SHARED_CATALOG, policy.CATALOG)
    await test.invalidate(SHARED_CATALOG, policy.CATALOG)
    loads = {name: loader(name) for name in ("dev-cat", "test-cat", "dev-inv", "test-inv")}

    async def read(cache, who: str) -> tuple[str, str]:
        cat = await cache.get_or_load(
            policy.CATALOG_PRODUCTS, SHARED_CATALOG, loads[f"{who}-cat"], MSG
        )
        inv = await cache.get_or_load(policy.INVOICES_LIST, scope, loads[f"{who}-inv"], MSG)
        return cat.invoices[0].number, inv.invoices[0].number

    assert await read(dev, "dev") == ("dev-cat1", "dev-inv1")
    assert await read(test, "test") == ("test-cat1", "test-inv1")  # not the dev stack's values
    assert await read(dev, "dev") == ("dev-cat1", "dev-inv1")  # and the dev values are intact
    assert await test.invalidate(SHARED_CATALOG, policy.CATALOG)
    assert await test.invalidate(scope, policy.INVOICES)
    assert await test.invalidate_all(policy.INVOICES)
    assert await read(dev, "dev") == ("dev-cat1", "dev-inv1")  # test's drops never reach dev
    assert await read(test, "test") == ("test-cat2", "test-inv2")
    assert await dev.invalidate_all(policy.CATALOG)
    assert await read(test, "test") == ("test-cat2", "test-inv2")  # nor dev's reach test
    assert await read(dev, "dev") == ("dev-cat2", "dev-inv1")


async def test_misses_say_why_first_invalidated_or_expired(make_cache, loader, raw, uid) -> None:
    """A first read misses as ``first``; a read after an invalidation as ``invalidated`` (the old
    value still there, or already gone); a read after the value expired as ``expired``; each under
    the RPC being served."""
    cache, load, scope = make_cache(), loader(), UserScope(uid)
    rpc = "/portal.billing.v1.BillingService/GetInvoice"
    key = value_key(policy.INVOICE_DETAIL, scope, Variant.of(n=1))
    causes = ("first", "invalidated", "expired", "unknown", "unreadable")

    def misses() -> dict[str, float]:
        return {
            why: value(
                "portal_cache_misses_total", {"entry": "invoices.detail", "why": why, "rpc": rpc}
            )
            for why in causes
        }

    async def read() -> None:
        await cache.get_or_load(policy.INVOICE_DETAIL, scope, load, MSG, variant=Variant.of(n=1))

    def grew(before: dict[str, float], why: str) -> bool:
        after = misses()
        return all(after[c] == before[c] + (c == why) for c in causes)

    token = rpc_method.set(rpc)
    try:
        before = misses()
        await read()
        assert grew(before, "first")
        before = misses()
        await read()  # a hit
        assert grew(before, "") and load.calls == 1
        assert await cache.invalidate(scope, policy.INVOICE_DETAILS)
        await read()  # the old value is still stored, under the old generation
        assert grew(before, "invalidated") and load.calls == 2
        before = misses()
        assert await raw.delete(key) == 1  # the value's TTL ran out (or Redis evicted it)
        await read()
        assert grew(before, "expired") and load.calls == 3
        before = misses()
        assert await cache.invalidate(scope, policy.INVOICE_DETAILS)
        assert await raw.delete(key) == 1  # invalidated, and the old value gone since
        await read()
        assert grew(before, "invalidated") and load.calls == 4
        before = misses()
        await read()
        assert grew(before, "") and load.calls == 4
    finally:
        rpc_method.reset(token)
    outside = value(
        "portal_cache_misses_total",
        {"entry": "invoices.detail", "why": "first", "rpc": "background"},
    )
    await cache.get_or_load(policy.INVOICE_DETAIL, scope, load, MSG, variant=Variant.of(n=2))
    assert (
        value(
            "portal_cache_misses_total",
            {"entry": "invoices.detail", "why": "first", "rpc": "background"},
        )
        == outside + 1
    )
