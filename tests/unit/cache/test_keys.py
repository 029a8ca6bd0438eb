from __future__ import annotations

import re

import pytest
from google.protobuf import any_pb2, struct_pb2
from hypothesis import given
from hypothesis import strategies as st
from portal.billing.v1 import billing_pb2
from redis.crc import key_slot

from services.common.cache import SHARED_CATALOG, CustomerNumberScope, UserScope, Variant, policy
from services.common.cache.keys import (
    NO_VARIANT,
    check_namespace,
    global_key,
    keys_for,
    order_changes_channel,
    schema_hash,
    slot_tags,
    webhook_event_key,
)
from services.common.cache.scope import encode

NS = "portal"
ids = st.text(min_size=1, max_size=40)
part_values = st.one_of(st.text(max_size=20), st.integers(min_value=0, max_value=10**6))
variants = st.builds(
    lambda parts: Variant.of(**parts),
    st.dictionaries(st.sampled_from(["page", "size", "status", "order"]), part_values, max_size=3),
)
entries = st.sampled_from([e for e in policy.ENTRIES if e.scope is UserScope])
namespaces = st.from_regex(r"\A[a-z][a-z0-9_-]{0,12}\Z")
TAG = re.compile(r"^[a-z][a-z0-9_-]*:\{u:([^{}]*)\}:")


def user_key(uid: str, entry: policy.Entry[UserScope], variant: Variant, ns: str = NS) -> str:
    return keys_for(ns, entry, UserScope(uid), "abcd1234", variant, cluster=True).value


@given(st.tuples(ids, entries, variants), st.tuples(ids, entries, variants))
def test_distinct_inputs_give_distinct_keys(a, b) -> None:
    if a != b:
        assert user_key(*a) != user_key(*b)
    else:
        assert user_key(*a) == user_key(*b)


@given(ids, entries, variants)
def test_hash_tag_is_exactly_the_encoded_user_id(uid, entry, variant) -> None:
    keys = keys_for(NS, entry, UserScope(uid), "abcd1234", variant, cluster=True)
    for key in (keys.value, keys.lock, *keys.generations[:1]):
        match = TAG.match(key)
        assert match is not None, key
        assert match.group(1) == encode(uid)
        assert key.count("{") == 1 and key.count("}") == 1
    # everything one lookup touches is in one cluster slot (the user's)
    slots = {key_slot(k.encode()) for k in (*keys.read, keys.lock)}
    assert slots == {key_slot(f"{{u:{encode(uid)}}}".encode())}


@given(ids)
def test_encoding_is_injective_and_key_safe(uid) -> None:
    enc = encode(uid)
    assert not set(enc) & set(":{} \n")
    from urllib.parse import unquote

    assert unquote(enc) == uid


@pytest.mark.parametrize("uid", ["a:b", "x}y", "{u:other}", "space d", "100%", "ユーザー", "a/b"])
def test_awkward_ids_stay_inside_the_tag(uid) -> None:
    key = user_key(uid, policy.INVOICES_LIST, Variant.of(status=uid, page=1))
    assert key.startswith("portal:{u:") and key.count("}") == 1
    assert key.endswith(f":billing:invoices:vabcd1234:page=1:status={encode(uid)}")


def test_format_of_each_scope() -> None:
    assert (
        user_key("42", policy.INVOICES_LIST, NO_VARIANT)
        == "portal:{u:42}:billing:invoices:vabcd1234"
    )
    shared = keys_for(
        NS, policy.CATALOG_PRODUCTS, SHARED_CATALOG, "s", Variant.of(x=1), cluster=True
    )
    assert shared.value == "portal:shared:{catalog}:commerce:products:vs:x=1"
    assert shared.generations == ("portal:shared:{catalog}:_gen:catalog",)
    signup = keys_for(
        NS, policy.SIGNUP_CUSTOMER_LOOKUP, CustomerNumberScope("7"), "s", cluster=False
    )
    assert signup.value == "portal:{n:7}:identity:customer_lookup:vs"


def test_variant_parts_are_named_sorted_and_encoded() -> None:
    a = Variant.of(status="Unpaid", offset=20, size=10)
    assert a == Variant.of(size=10, status="Unpaid", offset=20)
    assert a.encoded() == "offset=20:size=10:status=Unpaid"
    assert Variant.of(order="a:b=c").encoded() == "order=a%3Ab%3Dc"
    assert Variant.of(number=7) == Variant.of(number="7")  # an int is its decimal string
    with pytest.raises(ValueError):
        Variant.of(**{"Bad:name": 1})
    with pytest.raises(TypeError):
        Variant.of(flag=True)
    with pytest.raises(TypeError):
        Variant.of(ratio=0.5)  # type: ignore[arg-type]


def test_a_remembered_variant_is_the_same_and_refusals_still_hold() -> None:
    first = Variant.of(status="Paid", offset=0, size=20)
    assert Variant.of(status="Paid", offset=0, size=20) is first  # remembered
    assert Variant.of(offset=0, size=20, status="Paid") == first
    assert Variant.of(offset=1).encoded() == "offset=1"
    with pytest.raises(TypeError):
        Variant.of(offset=True)  # equal to 1 and hashed alike, still refused
    with pytest.raises(TypeError):
        Variant.of(offset=[1])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Variant.of(offset=1.0)  # type: ignore[arg-type]  # equal to 1, still refused


def test_variant_cannot_forge_lock_or_generation_keys() -> None:
    keys = keys_for(NS, policy.INVOICES_LIST, UserScope("1"), "s", cluster=True)
    tricks = [Variant.of(x="_lock"), Variant.of(x=":_lock"), Variant.of(x="_gen:invoices")]
    forged = {user_key("1", policy.INVOICES_LIST, v) for v in tricks}
    assert not forged & {keys.lock, *keys.generations}


@given(namespaces, namespaces, ids, entries, variants)
def test_namespaces_never_share_a_key_and_keep_the_slot(ns_a, ns_b, uid, entry, variant) -> None:
    a = keys_for(ns_a, entry, UserScope(uid), "abcd1234", variant, cluster=True)
    b = keys_for(ns_b, entry, UserScope(uid), "abcd1234", variant, cluster=True)
    every_a = {*a.read, a.lock}
    assert all(k.startswith(f"{ns_a}:") for k in every_a)
    if ns_a != ns_b:
        assert not every_a & {*b.read, b.lock}
    # the hash tag is still the user's: the namespace never moves a key to another slot
    assert {key_slot(k.encode()) for k in every_a} == {UserScope(uid).slot}


def test_every_key_kind_carries_the_namespace() -> None:
    assert global_key("dev", policy.INVOICES, None) == "dev:{g:all}:_genall:invoices"
    shared = keys_for("dev", policy.CATALOG_PRODUCTS, SHARED_CATALOG, "s", cluster=False)
    assert shared.value.startswith("dev:shared:{catalog}:")
    assert order_changes_channel("dev", "42") == "dev:{u:42}:commerce:orders"
    event = webhook_event_key("dev", "whmcs", "evt-1")
    assert re.fullmatch(r"dev:webhook:whmcs:\{[0-9a-f]{64}\}", event)
    assert event != webhook_event_key("portal", "whmcs", "evt-1")


@pytest.mark.parametrize("bad", ["", "Portal", "a:b", "{x}", "a b", "9lives", "x" * 49, None])
def test_bad_namespaces_are_refused(bad) -> None:
    with pytest.raises(ValueError):
        check_namespace(bad)


@pytest.mark.parametrize("good", ["portal", "portal_e2e_0123abcd", "bench-cache-1"])
def test_good_namespaces_pass(good) -> None:
    assert check_namespace(good) == good


@pytest.mark.parametrize("bad", ["", None])
def test_user_scope_refuses_missing_user(bad) -> None:
    with pytest.raises(ValueError):
        UserScope(bad)
    with pytest.raises(ValueError):
        CustomerNumberScope(bad)


def test_global_generation_copies_cover_every_slot() -> None:
    tags = slot_tags()
    assert len(tags) == 16384
    keys = (global_key(NS, policy.INVOICES, s) for s in range(0, 16384, 97))
    assert all(key_slot(k.encode()) == s for k, s in zip(keys, range(0, 16384, 97), strict=True))
    assert global_key(NS, policy.INVOICES, None) == "portal:{g:all}:_genall:invoices"


def test_schema_hash_changes_with_the_message_and_the_version() -> None:
    a = schema_hash(billing_pb2.ListInvoicesResponse)
    assert a == schema_hash(billing_pb2.ListInvoicesResponse)
    assert a != schema_hash(billing_pb2.ListPaymentMethodsResponse)
    assert a != schema_hash(billing_pb2.ListInvoicesResponse, 2)
    assert re.fullmatch(r"[0-9a-f]{8}", a)


@pytest.mark.parametrize("message", [struct_pb2.Struct, struct_pb2.Value, any_pb2.Any])
def test_schemaless_messages_are_refused(message) -> None:
    with pytest.raises(TypeError):
        schema_hash(message)
