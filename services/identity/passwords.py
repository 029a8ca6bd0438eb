"""argon2id password hashing, off the event loop and bounded (each hash takes a core).

Parameters follow the OWASP Password Storage Cheat Sheet (m=19 MiB, t=2, p=1 by default; see
settings). ``needs_rehash`` tells a successful login to store a hash with the current parameters.
Unknown users are verified against a dummy hash so both failure paths cost one argon2 run.

Memory: each hash works in ``memory_kib`` (19 MiB) of malloc'd memory. glibc raises its mmap
threshold to the size of a freed mmap'd block, so from the second hash on those buffers came from
the heap and stayed in the process: every concurrent slot kept 19 MiB for good (the soak saw
identity grow from 123 to 142 MiB and stay there). :func:`return_big_buffers` pins the threshold,
so a hash's buffer is mmap'd and handed back when it is freed, at ~10 ms of page faults per hash.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import secrets

import structlog
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

log = structlog.get_logger("passwords")

M_MMAP_THRESHOLD = -3  # mallopt parameter (glibc malloc.h)
MMAP_THRESHOLD_BYTES = 1 << 20


def return_big_buffers() -> bool:
    """Make glibc serve allocations of 1 MiB and more with mmap, always (no dynamic threshold), so
    their memory goes back to the system when freed. False where that is not glibc's malloc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        done = bool(libc and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        done = False
    if not done:
        log.info("mmap_threshold_unchanged")
    return done


class Passwords:
    def __init__(
        self, *, memory_kib: int, time_cost: int, parallelism: int, concurrency: int = 2
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        return_big_buffers()
        self._slots = asyncio.Semaphore(concurrency)
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True if ``password`` matches; with ``password_hash=None`` (no such user) a dummy
        hash is checked so the answer takes as long and is always False."""
        target = password_hash or self._dummy
        async with self._slots:
            try:
                await asyncio.to_thread(self._hasher.verify, target, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False
        return password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
