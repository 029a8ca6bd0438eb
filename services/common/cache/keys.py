"""Key building: the only place a Redis key (or pub/sub channel) of the portal is made.

Every key starts with the deployment's namespace ``N`` (setting ``CACHE_NAMESPACE``, default
``portal``), so two deployments sharing one Redis (``make run`` and ``make test`` on a laptop, two
test stacks) never read or drop each other's values. Layout (``S`` = ``N:<scope segment>``, e.g.
``portal:{u:42}``, see ``scope``)::

    S:<service>:<resource>:v<schema>[:<variant>]   value (bytes: "<generations>|<protobuf>")
    S:_lock:<service>:<resource>:v<schema>[:<variant>]   cross-process fill lock (SET NX PX)
    S:_filled:<service>:<resource>:v<schema>[:<variant>] fill marker: generations of the last fill
    S:_index:<service>:<resource>:v<schema>          a patchable entry's value keys (a set)
    S:_hold:<service>:<resource>                     a patchable entry's pending writers (a set)
    S:_notes:<service>:<resource>                    a patchable entry's short-lived notes (a set)
    S:_gen:<family>                                   the scope's family generation
    N:{g:<n>}:_genall:<family>                        "every user" generation, one copy per slot
    N:webhook:<source>:{<sha256 of event id>}         a webhook event already handled (dedupe)
    N:{u:<user>}:commerce:orders                      pub/sub channel of a user's order changes

``<schema>`` hashes the message's descriptor (full name, fields, nested message types) and the
entry's ``version``, so a deploy that changes a message never parses old bytes. Service,
resource and family names are ``[a-z][a-z0-9_]*`` (checked in ``policy``); a ``Variant`` is named
parts whose values are percent-encoded: a variant can never produce a ``_lock``/``_gen`` key or
another entry's key. The namespace is ``[a-z][a-z0-9_-]*`` (no ``:``, ``{``, ``}``), so the hash
tag of every key is still the scope's and the namespace cannot change which slot a key lives in.

The "every user" generation must be read in the same MGET as the value, and a Redis Cluster call
may only touch one slot, so it is stored once per slot under a tag ``g:<n>`` chosen to hash to that
slot. ``invalidate_all`` writes all copies (16384 on a cluster, one on a standalone server, where
everything lives in "slot 0" as far as this module is concerned).
"""

from __future__ import annotations

import hashlib
import re
from binascii import crc_hqx
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from google.protobuf.message import Message

from services.common.cache.policy import Entry, Family
from services.common.cache.scope import (
    CLUSTER_SLOTS,
    Scope,
    SharedCatalogScope,
    UserScope,
    encode,
)

DEFAULT_NAMESPACE = "portal"
_NAMESPACE = re.compile(r"^[a-z][a-z0-9_-]{0,47}$")
_PART_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def check_namespace(namespace: str) -> str:
    """``namespace`` if it is a valid key namespace, else ``ValueError`` (fail fast at start-up)."""
    if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
        raise ValueError(
            f"cache namespace must match {_NAMESPACE.pattern} (no ':', '{{' or '}}'), "
            f"got {namespace!r}"
        )
    return namespace


@dataclass(frozen=True, slots=True)
class Variant:
    """Which copy of an entry a key names (a page, an id): named parts, encoded only here.

    ``Variant.of(status="paid", offset=20, size=10)`` encodes as ``offset=20:size=10:status=paid``
    (sorted by name, values percent-encoded), so callers never format key text and two call sites
    naming the same parts in another order hit the same key. An int and its decimal string are the
    same part.
    """

    parts: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, **parts: str | int) -> Variant:
        # Every cached read names its variant: the checked and sorted result is remembered
        # (``_remembered``); a value it cannot remember (unhashable) or refuses is refused here
        # with the reason.
        try:
            return _remembered(**parts)
        except TypeError:
            return cls._made(parts)

    @classmethod
    def _made(cls, parts: dict[str, str | int]) -> Variant:
        out: list[tuple[str, str]] = []
        for name, value in sorted(parts.items()):
            if not _PART_NAME.match(name):
                raise ValueError(f"bad variant part name {name!r}")
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise TypeError(f"variant part {name!r} must be a str or an int, got {value!r}")
            out.append((name, str(value)))
        return cls(tuple(out))

    def encoded(self) -> str:
        return ":".join(f"{name}={encode(value)}" for name, value in self.parts)


@lru_cache(maxsize=1024, typed=True)
def _remembered(**parts: str | int) -> Variant:
    """``Variant.of``'s result, remembered (bounded, least recently used first) by the parts as
    given with their types: ``True == 1`` and ``1.0 == 1`` must not find the variant of ``1``."""
    return Variant._made(parts)


NO_VARIANT = Variant()
"""The variant of an entry that has one value per scope."""


@dataclass(frozen=True, slots=True)
class Keys:
    """The keys one ``get_or_load`` call touches; all in one cluster slot."""

    value: str
    lock: str
    generations: tuple[str, ...]
    read: tuple[str, ...]  # what a lookup MGETs: the value, then its generations
    poll: tuple[str, ...]  # what a lock waiter MGETs: the value and the lock
    filled: str = ""  # the fill marker: the generations the value was last stored under
    index: str = ""  # a patchable entry's index of the scope's value keys ("" otherwise)
    hold: str = ""  # a patchable entry's pending writers, capping its TTLs ("" otherwise)
    notes: str = ""  # a patchable entry's short-lived notes ("" otherwise)


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


SCHEMALESS = frozenset(
    {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue",
     "google.protobuf.Any"}
)  # fmt: skip
"""Messages whose schema says nothing of their content: never cached (a field added to what
they carry would not change the schema hash, so old entries would be served without it)."""


@cache
def schema_hash(message_type: type[Message], version: int = 1) -> str:
    """8 hex chars identifying the message's wire schema (recursively) and the entry version."""
    if message_type.DESCRIPTOR.full_name in SCHEMALESS:
        raise TypeError(
            f"{message_type.DESCRIPTOR.full_name} has no schema to hash: cache a typed message"
        )
    parts: list[str] = [str(version)]
    _describe(message_type.DESCRIPTOR, set(), parts)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:8]


def scope_prefix(namespace: str, scope: Scope) -> str:
    return f"{namespace}:{scope.segment}"


def value_key(
    namespace: str, entry: Entry[Any], scope: Scope, schema: str, variant: Variant = NO_VARIANT
) -> str:
    key = f"{scope_prefix(namespace, scope)}:{entry.service}:{entry.resource}:v{schema}"
    return f"{key}:{variant.encoded()}" if variant.parts else key


def lock_key(namespace: str, value: str, scope: Scope) -> str:
    prefix = scope_prefix(namespace, scope)
    return f"{prefix}:_lock{value[len(prefix) :]}"


def filled_key(namespace: str, value: str, scope: Scope) -> str:
    """The marker a fill leaves beside a value (``S:_filled:...``), outliving it: a miss that finds
    it knows the value existed (expired, evicted or invalidated) rather than never being filled."""
    prefix = scope_prefix(namespace, scope)
    return f"{prefix}:_filled{value[len(prefix) :]}"


def index_key(namespace: str, entry: Entry[Any], scope: Scope, schema: str) -> str:
    """The set of a patchable entry's value keys filled in this scope (``S:_index:...``), which
    ``Cache.patch`` edits; every member is in the scope's hash tag."""
    value = value_key(namespace, entry, scope, schema)
    prefix = scope_prefix(namespace, scope)
    return f"{prefix}:_index{value[len(prefix) :]}"


def hold_key(namespace: str, entry: Entry[Any], scope: Scope) -> str:
    """The writers about to edit a patchable entry in this scope (``S:_hold:...``, a set of their
    tokens): while it exists, no value of the entry in the scope lives longer than it
    (``Cache.hold``). One per entry and scope, whatever the schema of the values."""
    return f"{scope_prefix(namespace, scope)}:_hold:{entry.service}:{entry.resource}"


def notes_key(namespace: str, entry: Entry[Any], scope: Scope) -> str:
    """Short-lived notes a writer leaves for the event handlers about a patchable entry in this
    scope (``S:_notes:...``, a set, ``Cache.note``)."""
    return f"{scope_prefix(namespace, scope)}:_notes:{entry.service}:{entry.resource}"


def family_key(namespace: str, scope: Scope, family: Family[Any]) -> str:
    return f"{scope_prefix(namespace, scope)}:_gen:{family.name}"


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


def global_key(namespace: str, family: Family[Any], slot: int | None) -> str:
    """The "every user" generation of ``family`` stored in ``slot`` (None: standalone server)."""
    tag = "g:all" if slot is None else slot_tags()[slot]
    return f"{namespace}:{{{tag}}}:_genall:{family.name}"


KEYS_MEMO = 256
"""How many ``keys_for`` results are remembered (least recently used first out). Each holds
~1.5 KiB (the ``Keys`` with its 6 to 9 key strings and tuples, the scope and variant it was asked
for), and there is one per user, entry and variant read, so the memo fills with every user a
process has served and never shrinks: it is kept to the keys of the users reading now (~0.4 MiB
at most). A miss builds the keys again, ~2 µs against a cached read's ~0.5 ms of CPU: the memo
serves a user's repeated reads within a page load or a poll, and 1,024 sets (1.5 MiB, the
bound before) bought no measurable time for the memory (bench/README.md, "The soak's last
MiB in commerce")."""


@lru_cache(maxsize=KEYS_MEMO)
def keys_for(
    namespace: str,
    entry: Entry[Any],
    scope: Scope,
    schema: str,
    variant: Variant = NO_VARIANT,
    *,
    cluster: bool,
) -> Keys:
    value = value_key(namespace, entry, scope, schema, variant)
    gens: tuple[str, ...] = (family_key(namespace, scope, entry.family),)
    if not isinstance(scope, SharedCatalogScope):
        gens += (global_key(namespace, entry.family, scope.slot if cluster else None),)
    lock = lock_key(namespace, value, scope)
    filled = filled_key(namespace, value, scope)
    if not entry.patchable:
        return Keys(value, lock, gens, (value, *gens), (value, lock), filled)
    index = index_key(namespace, entry, scope, schema)
    hold = hold_key(namespace, entry, scope)
    notes = notes_key(namespace, entry, scope)
    return Keys(value, lock, gens, (value, *gens), (value, lock), filled, index, hold, notes)


# -- keys outside the read-through cache -----------------------------------------------------------
def webhook_event_key(namespace: str, source: str, event_id: str) -> str:
    """A handled webhook event (``SET NX EX``): not a cache entry, it holds no account data and
    must survive cache invalidations. The id is hashed: any length, one fixed-size key."""
    if not _PART_NAME.match(source):
        raise ValueError(f"bad webhook source {source!r}")
    digest = hashlib.sha256(event_id.encode()).hexdigest()
    return f"{namespace}:webhook:{source}:{{{digest}}}"


def order_changes_channel(namespace: str, user_id: str) -> str:
    """The pub/sub channel of one user's order changes (in the user's hash tag)."""
    return f"{scope_prefix(namespace, UserScope(user_id))}:commerce:orders"


def watch_slots_key(namespace: str, user_id: str) -> str:
    """The sorted set of one user's open WatchOrders streams on every replica (member: a stream
    id, score: when its lease ends), in the user's hash tag."""
    return f"{scope_prefix(namespace, UserScope(user_id))}:commerce:watch-slots"


def order_events_key(namespace: str, user_id: str) -> str:
    """The Redis stream of one user's order changes that SSE clients resume from (the user's
    hash tag, beside the pub/sub channel)."""
    return f"{scope_prefix(namespace, UserScope(user_id))}:commerce:order-events"
