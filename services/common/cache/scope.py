"""Typed cache scopes: whose data a key holds, and the Redis Cluster hash tag that places it.

Every key the library builds starts with ``<namespace>:<scope segment>`` (the namespace is the
deployment's ``CACHE_NAMESPACE``, see ``keys``); the segment comes from the scope:

- ``UserScope(user_id)`` -> ``{u:<user_id>}``: anything derived from a user's account.
- ``SharedCatalogScope()`` -> ``shared:{catalog}``: the product catalog, which holds no account
  data. (The braces make ``catalog`` the hash tag, so the catalog entries and the catalog's
  generation counter share one slot and are read together in one round trip.)
- ``CustomerNumberScope(customer_number)`` -> ``{n:<customer_number>}``: the sign-up lookup, which
  runs before a portal user exists; it is scoped to the one Salesforce account the customer number
  names, never shared.

Identifiers are percent-encoded (UTF-8, everything outside ``[A-Za-z0-9_.~-]``), which is
injective and never yields ``:``, ``{`` or ``}``: two users can never share a key, and an id can
never close the hash tag early or add a key segment.
"""

from __future__ import annotations

from binascii import crc_hqx
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote

CLUSTER_SLOTS = 16384


@lru_cache(maxsize=1024)
def encode(part: str) -> str:
    """Injective, key-safe encoding of an id or variant: no ``:``, ``{``, ``}`` or spaces.

    Remembered (bounded, least recently used first): every cached read encodes its user's id
    and ``quote`` is ~70 bytecodes; an encoding never changes."""
    return quote(part, safe="")


def slot_of_tag(tag: str) -> int:
    """The Redis Cluster slot of a key whose hash tag is ``{tag}`` (CRC16/XMODEM mod 16384)."""
    return crc_hqx(tag.encode(), 0) % CLUSTER_SLOTS


@dataclass(frozen=True, slots=True)
class Scope:
    """Base of all scopes. ``segment`` follows the namespace in every key of the scope and holds
    the hash tag ``{<tag>}``; ``slot`` is the tag's Redis Cluster slot."""

    tag: str = field(init=False, repr=False)
    segment: str = field(init=False, repr=False)
    slot: int = field(init=False, repr=False, compare=False)

    def _place(self, tag: str, segment: str) -> None:
        object.__setattr__(self, "tag", tag)
        object.__setattr__(self, "segment", segment)
        object.__setattr__(self, "slot", slot_of_tag(tag))


def _require_id(what: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"a cache scope needs a non-empty {what}, got {value!r}")


@dataclass(frozen=True, slots=True)
class UserScope(Scope):
    """Keys of one portal user: ``<namespace>:{u:<user_id>}:...``. Refuses an empty id."""

    user_id: str

    def __post_init__(self) -> None:
        _require_id("user id", self.user_id)
        tag = f"u:{encode(self.user_id)}"
        self._place(tag, f"{{{tag}}}")


@dataclass(frozen=True, slots=True)
class CustomerNumberScope(Scope):
    """The sign-up lookup of a customer number (no portal user yet): ``<ns>:{n:<number>}:...``."""

    customer_number: str

    def __post_init__(self) -> None:
        _require_id("customer number", self.customer_number)
        tag = f"n:{encode(self.customer_number)}"
        self._place(tag, f"{{{tag}}}")


@dataclass(frozen=True, slots=True)
class SharedCatalogScope(Scope):
    """The one shared scope: catalog data, which holds no account data (``<ns>:shared:...``)."""

    def __post_init__(self) -> None:
        self._place("catalog", "shared:{catalog}")


SHARED_CATALOG = SharedCatalogScope()
