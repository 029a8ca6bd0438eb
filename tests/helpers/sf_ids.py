"""Salesforce record ids for guessing attacks: the real case-safe checksum, 15/18-character
forms and neighbouring serials (as an attacker who saw one of their own ids would compute)."""

from __future__ import annotations

from sandbox.salesforce.ids import checksum  # written apart from the services: the oracle

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def full(base15: str) -> str:
    """The 18-character id of a 15-character base."""
    assert len(base15) == 15
    return base15 + checksum(base15)


def neighbour(record_id: str, delta: int) -> str:
    """The id whose last base-62 digits (the serial) differ by ``delta``, with a valid suffix."""
    base = record_id[:15]
    head, serial = base[:6], base[6:]
    number = 0
    for ch in serial:
        number = number * 62 + _ALNUM.index(ch)
    number += delta
    digits = []
    for _ in serial:
        number, rest = divmod(number, 62)
        digits.append(_ALNUM[rest])
    return full(head + "".join(reversed(digits)))


def nobodys(prefix: str) -> str:
    """A well-formed id of object ``prefix`` with a serial no org has reached."""
    return full(f"{prefix}Dp0zzzzzzzzz")
