"""Key building, the only place a cache key is made.

Layout (``S`` = scope prefix from ``scope``, e.g. ``portal:{u:42}``)::

    S:<service>:<resource>:v<schema>[:<variant>]   value (bytes: "<generations>|<protobuf>")
    S:_lock:<service>:<resource>:v<schema>[:<variant>]   cross-process fill lock (SET NX PX)
    S:_gen:<family>                                   the scope's family generation
    portal:{g:<n>}:_genall:<family>                   "every user" generation, one copy per slot

``<schema>`` hashes the message's descriptor (full name, fields, nested message types) and the
entry's ``version``, so a deploy that changes a message never parses old bytes. Service,
resource and family names are ``[a-z][a-z0-9_]*`` (checked in ``policy``), the variant is
percent-encoded: a variant can never produce a ``_lock``/``_gen`` key or another entry's key.

The "every user" generation must be read in the same MGET as the value, and a Redis Cluster call
may only touch one slot, so it is stored once per slot under a tag ``g:<n>`` chosen to hash to that
slot. ``invalidate_all`` writes all copies (16384 on a cluster, one on a standalone server, where
everything lives in "slot 0" as far as this module is concerned).
"""

from __future__ import annotations

import hashlib
from binascii import crc_hqx
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from google.protobuf.message import Message

from services.common.cache.policy import Entry, Family
from services.common.cache.scope import CLUSTER_SLOTS, Scope, SharedCatalogScope, encode


@dataclass(frozen=True, slots=True)
class Keys:
    """The keys one ``get_or_load`` call touches; all in one cluster slot."""

    value: str
    lock: str
    generations: tuple[str, ...]
    read: tuple[str, ...]  # what a lookup MGETs: the value, then its generations
    poll: tuple[str, ...]  # what a lock waiter MGETs: the value and the lock


def _describe(desc: Any, seen: set[str], out: list[str]) -> None:
    if desc.full_name in seen:
        out.append(f"@{desc.full_name}")
        return
    seen.add(desc.full_name)
    out.append(desc.full_name)
    for f in desc.fields:
        label = "r" if f.is_repeated else "s"
        out.append(f"{f.number}:{f.name}:{f.type}:{label}")
        if f.message_type is not None:
            _describe(f.message_type, seen, out)
        if f.enum_type is not None:
            out.append(f.enum_type.full_name + "".join(f",{v.number}" for v in f.enum_type.values))


@cache
def schema_hash(message_type: type[Message], version: int = 1) -> str:
    """8 hex chars identifying the message's wire schema (recursively) and the entry version."""
    parts: list[str] = [str(version)]
    _describe(message_type.DESCRIPTOR, set(), parts)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:8]


def value_key(entry: Entry[Any], scope: Scope, schema: str, variant: str = "") -> str:
    key = f"{scope.prefix}:{entry.service}:{entry.resource}:v{schema}"
    return f"{key}:{encode(variant)}" if variant else key


def lock_key(value: str, scope: Scope) -> str:
    return f"{scope.prefix}:_lock{value[len(scope.prefix) :]}"


def family_key(scope: Scope, family: Family[Any]) -> str:
    return f"{scope.prefix}:_gen:{family.name}"


@cache
def slot_tags() -> tuple[str, ...]:
    """For each cluster slot, a tag ``g:<n>`` hashing to it (~150k CRCs, ~0.1 s, once)."""
    table: list[str | None] = [None] * CLUSTER_SLOTS
    left, n = CLUSTER_SLOTS, 0
    while left:
        tag = f"g:{n}"
        slot = crc_hqx(tag.encode(), 0) % CLUSTER_SLOTS
        if table[slot] is None:
            table[slot] = tag
            left -= 1
        n += 1
    return tuple(t for t in table if t is not None)


def global_key(family: Family[Any], slot: int | None) -> str:
    """The "every user" generation of ``family`` stored in ``slot`` (None: standalone server)."""
    tag = "g:all" if slot is None else slot_tags()[slot]
    return f"portal:{{{tag}}}:_genall:{family.name}"


@lru_cache(maxsize=8192)
def keys_for(entry: Entry[Any], scope: Scope, schema: str, variant: str, *, cluster: bool) -> Keys:
    value = value_key(entry, scope, schema, variant)
    gens: tuple[str, ...] = (family_key(scope, entry.family),)
    if not isinstance(scope, SharedCatalogScope):
        gens += (global_key(entry.family, scope.slot if cluster else None),)
    lock = lock_key(value, scope)
    return Keys(value, lock, gens, (value, *gens), (value, lock))
