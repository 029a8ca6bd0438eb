from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from portal.billing.v1 import billing_pb2
from redis.crc import key_slot

from services.common.cache import SHARED_CATALOG, CustomerNumberScope, UserScope, policy
from services.common.cache.keys import global_key, keys_for, schema_hash, slot_tags
from services.common.cache.scope import encode

ids = st.text(min_size=1, max_size=40)
variants = st.text(max_size=40)
entries = st.sampled_from([e for e in policy.ENTRIES if e.scope is UserScope])
TAG = re.compile(r"^portal:\{u:([^{}]*)\}:")


def user_key(uid: str, entry: policy.Entry[UserScope], variant: str) -> str:
    return keys_for(entry, UserScope(uid), "abcd1234", variant, cluster=True).value


@given(st.tuples(ids, entries, variants), st.tuples(ids, entries, variants))
def test_distinct_inputs_give_distinct_keys(a, b) -> None:
    if a != b:
        assert user_key(*a) != user_key(*b)
    else:
        assert user_key(*a) == user_key(*b)


@given(ids, entries, variants)
def test_hash_tag_is_exactly_the_encoded_user_id(uid, entry, variant) -> None:
    keys = keys_for(entry, UserScope(uid), "abcd1234", variant, cluster=True)
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
    key = user_key(uid, policy.INVOICES_LIST, "p:1")
    assert key.startswith("portal:{u:") and key.count("}") == 1
    assert key.endswith(":billing:invoices:vabcd1234:p%3A1")


def test_format_of_each_scope() -> None:
    assert user_key("42", policy.INVOICES_LIST, "") == "portal:{u:42}:billing:invoices:vabcd1234"
    shared = keys_for(policy.CATALOG_PRODUCTS, SHARED_CATALOG, "s", "x", cluster=True)
    assert shared.value == "portal:shared:{catalog}:commerce:products:vs:x"
    assert shared.generations == ("portal:shared:{catalog}:_gen:catalog",)
    signup = keys_for(
        policy.SIGNUP_CUSTOMER_LOOKUP, CustomerNumberScope("7"), "s", "", cluster=False
    )
    assert signup.value == "portal:{n:7}:identity:customer_lookup:vs"


def test_variant_cannot_forge_lock_or_generation_keys() -> None:
    keys = keys_for(policy.INVOICES_LIST, UserScope("1"), "s", "", cluster=True)
    forged = {user_key("1", policy.INVOICES_LIST, v) for v in ["_lock", ":_lock", "_gen:invoices"]}
    assert not forged & {keys.lock, *keys.generations}


@pytest.mark.parametrize("bad", ["", None])
def test_user_scope_refuses_missing_user(bad) -> None:
    with pytest.raises(ValueError):
        UserScope(bad)
    with pytest.raises(ValueError):
        CustomerNumberScope(bad)


def test_global_generation_copies_cover_every_slot() -> None:
    tags = slot_tags()
    assert len(tags) == 16384
    assert all(key_slot(global_key(policy.INVOICES, s).encode()) == s for s in range(0, 16384, 97))
    assert global_key(policy.INVOICES, None) == "portal:{g:all}:_genall:invoices"


def test_schema_hash_changes_with_the_message_and_the_version() -> None:
    a = schema_hash(billing_pb2.ListInvoicesResponse)
    assert a == schema_hash(billing_pb2.ListInvoicesResponse)
    assert a != schema_hash(billing_pb2.ListPaymentMethodsResponse)
    assert a != schema_hash(billing_pb2.ListInvoicesResponse, 2)
    assert re.fullmatch(r"[0-9a-f]{8}", a)
