"""In-place edits of cached values (``Cache.patch``): an event applied to every cached copy.

A mixin of ``Cache`` (one idea per file). For a ``patchable`` entry each fill records the value's
key in the scope's index of the entry (``keys.index_key``). ``patch`` reads the index, the
generations and every value in two round trips, lets the caller's ``edit`` change each current
message (or leave it), and writes them all back with ONE script (``record.PATCH``) that applies
only if the generations and every value are still what was read. The script replaces the
family's generation too, so a fill that read the old generation before the change stores nothing,
exactly as after an invalidation; the values it rewrote are the only ones current afterwards.

Anything it cannot do safely drops the family (``invalidate``) instead: ``edit`` raising
``Unpatchable``, a value that does not parse, a concurrent fill or invalidation between the read
and the script, Redis trouble. An invalidation is always correct, an edit only saves reloads.
``edit`` may also return ``DROP`` for one value (it is left behind under the old generation:
unreachable, like after an invalidation) while the others are edited.

A writer that will edit the values after a change it makes elsewhere (checkout creating an order,
then placing it on the cached pages) first ``hold``s the entry: while the hold lives (a short
TTL), no value of the entry in the scope lives longer than it, fills included, so a writer that
dies before its edit leaves nothing wrong for longer than the hold. Its ``patch`` releases the
hold in the same script and, if no other writer holds the entry, gives the values the entry's
whole TTL back. The notes (``notes``): a set of tokens beside the entry, made by a hold (its
token and any others) and living as long as the last hold made it, which tells the event
handlers what a writer is about to edit; a handler may add to them (``note``) but not prolong
them.
"""

from __future__ import annotations

import asyncio
import enum
import secrets
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Literal, TypeVar, cast

import structlog
from google.protobuf.message import DecodeError, Message

from services.common.cache.client import RedisClient
from services.common.cache.invalidation import Invalidation, check_scope
from services.common.cache.keys import (
    Keys,
    filled_key,
    hold_key,
    keys_for,
    notes_key,
    schema_hash,
)
from services.common.cache.policy import GENERATION_TTL, Entry
from services.common.cache.record import HOLD, NOTE, PATCH
from services.common.cache.scope import Scope

log = structlog.get_logger(__name__)

M = TypeVar("M", bound=Message)
S = TypeVar("S", bound=Scope)
T = TypeVar("T")


class Unpatchable(Exception):
    """The change cannot be applied to a cached value: the family is dropped instead."""


class Edit(enum.Enum):
    DROP = "drop"


DROP: Literal[Edit.DROP] = Edit.DROP
"""What an ``edit`` returns for a value the change makes wrong and cannot fix (e.g. a page whose
boundaries shift): that value is dropped, the others are edited."""


class Patching(Invalidation):
    async def patch(
        self,
        entry: Entry[S],
        scope: S,
        message_type: type[M],
        edit: Callable[[M], M | Literal[Edit.DROP] | None],
        *,
        release: str = "",
    ) -> bool:
        """Apply ``edit`` to every current cached value of ``entry`` in ``scope``, atomically.

        ``edit`` returns the message to store, None to keep it as it is, ``DROP`` to drop it, or
        raises ``Unpatchable``. Returns True when applied (every value edited, kept or dropped,
        the family's generation replaced); False when the family was dropped instead (see the
        module). ``release``: the token of this writer's ``hold``, released with the edit (or
        with the drop).
        """
        keys = self._patch_keys(entry, scope, message_type)
        client = self._client
        if client is None:
            return True
        try:
            async with asyncio.timeout(self.timeout):
                members = await client.smembers(keys.index)
            names = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
            async with asyncio.timeout(self.timeout):
                raw = cast(list[bytes | None], await client.mget([*keys.generations, *names]))
            gens, values = raw[: len(keys.generations)], raw[len(keys.generations) :]
            head = b".".join(g or b"" for g in gens)
            token = secrets.token_hex(8).encode()
            new_head = b".".join([token, *(g or b"" for g in gens[1:])])
            pairs = _edited(names, values, head, new_head, message_type, edit)
            argv: list[Any] = [len(gens), head, token, new_head, GENERATION_TTL * 1000]
            argv += [release, entry.ttl * 1000]
            for _, old, new in pairs:
                argv += [old, new]
            touched = [
                keys.index,
                keys.hold,
                *keys.generations,
                *(name for name, _, _ in pairs),
                *(filled_key(self.namespace, name, scope) for name, _, _ in pairs),
            ]
            self._dropped_near(touched)
            try:
                async with asyncio.timeout(self.timeout):
                    applied = await client.eval(PATCH, len(touched), *touched, *argv)
            finally:
                self._dropped_near(touched)
        except Unpatchable as exc:
            log.info("cache_patch_dropped", entry=entry.name, reason=str(exc))
            return await self._dropped(entry, scope, release)
        except Exception as exc:  # any Redis trouble: never raised to the caller
            self._failed("patch", entry.name, exc)
            return await self._dropped(entry, scope, release)
        self.breaker.success()
        if not applied:
            log.info("cache_patch_dropped", entry=entry.name, reason="concurrent write")
            return await self._dropped(entry, scope, release)
        return True

    async def _dropped(self, entry: Entry[S], scope: S, release: str) -> bool:
        await self.invalidate(scope, entry.family)
        if release:
            await self.release(entry, scope, release)
        return False

    async def hold(
        self,
        entry: Entry[S],
        scope: S,
        message_type: type[M],
        token: str,
        ttl: float,
        *,
        notes: tuple[str, ...] = (),
    ) -> bool:
        """Announce an edit of ``entry`` in ``scope`` to come (``token`` names the writer): for
        ``ttl`` seconds from now no value of it lives longer than the hold (see the module), and
        the token and ``notes`` are noted. Holding again with the same token restarts the
        ``ttl``. False on Redis trouble (logged, counted): nothing is held."""
        keys = self._patch_keys(entry, scope, message_type)
        ms = max(1, int(ttl * 1000))
        touched = (keys.index, keys.hold, keys.notes)
        return await self._script("hold", entry, HOLD, touched, token, ms, *notes)

    async def release(
        self, entry: Entry[S], scope: S, token: str, *, forget: list[str] | None = None
    ) -> bool:
        """End this writer's hold without an edit (the values keep their capped TTL) and remove
        ``forget`` from the notes. False on Redis trouble (logged, counted)."""
        hold, notes = self._side_keys(entry, scope)

        async def call(client: RedisClient) -> bool:
            pipe = client.pipeline(transaction=False)
            pipe.srem(hold, token)
            if forget:
                pipe.srem(notes, *forget)
            await pipe.execute()
            return True

        return await self._guarded("release", entry, call, disabled=True) is not None

    async def note(self, entry: Entry[S], scope: S, tokens: list[str]) -> bool:
        """Add ``tokens`` to the notes of ``entry`` in ``scope`` if a writer's hold made them,
        without making them live longer (an event handler's notes end with the writer's).
        False on Redis trouble (logged, counted)."""
        if not tokens:
            return True
        _, notes = self._side_keys(entry, scope)
        return await self._script("note", entry, NOTE, (notes,), *tokens)

    async def notes(self, entry: Entry[S], scope: S) -> frozenset[str] | None:
        """The notes of ``entry`` in ``scope``; None on Redis trouble (logged, counted)."""
        _, notes = self._side_keys(entry, scope)

        async def call(client: RedisClient) -> frozenset[str]:
            members = await client.smembers(notes)
            return frozenset(m.decode() if isinstance(m, bytes) else str(m) for m in members)

        return await self._guarded("notes", entry, call, disabled=frozenset())

    def _patch_keys(self, entry: Entry[S], scope: S, message_type: type[Message]) -> Keys:
        _check_patchable(entry, scope)
        schema = schema_hash(cast(Hashable, message_type), entry.version)
        return keys_for(self.namespace, entry, scope, schema, cluster=self._cluster)

    def _side_keys(self, entry: Entry[S], scope: S) -> tuple[str, str]:
        """The hold and the notes of ``entry`` in ``scope`` (one per entry, any schema)."""
        _check_patchable(entry, scope)
        return hold_key(self.namespace, entry, scope), notes_key(self.namespace, entry, scope)

    async def _script(
        self, op: str, entry: Entry[Any], script: str, touched: tuple[str, ...], *argv: Any
    ) -> bool:
        async def call(client: RedisClient) -> bool:
            await client.eval(script, len(touched), *touched, *argv)
            return True

        return await self._guarded(op, entry, call, disabled=True) is not None

    async def _guarded(
        self,
        op: str,
        entry: Entry[Any],
        call: Callable[[RedisClient], Awaitable[T]],
        *,
        disabled: T,
    ) -> T | None:
        """``call``'s result (never None) within the cache's deadline; ``disabled`` without a
        client (a disabled cache); None on Redis trouble (logged, counted, never raised)."""
        client = self._client
        if client is None:
            return disabled
        try:
            async with asyncio.timeout(self.timeout):
                result = await call(client)
        except Exception as exc:  # any Redis trouble: never raised to the caller
            self._failed(op, entry.name, exc)
            return None
        self.breaker.success()
        return result


def _check_patchable(entry: Entry[S], scope: S) -> None:
    check_scope(entry.family.scope, scope)
    if not entry.patchable:
        raise ValueError(f"entry {entry.name!r} is not patchable")


def _edited(
    names: list[str],
    values: list[bytes | None],
    head: bytes,
    new_head: bytes,
    message_type: type[M],
    edit: Callable[[M], M | Literal[Edit.DROP] | None],
) -> list[tuple[str, bytes, bytes]]:
    """``(key, record read, record to write)`` of every value current under ``head``."""
    out: list[tuple[str, bytes, bytes]] = []
    for name, record in zip(names, values, strict=True):
        if record is None:
            continue
        stored_head, _, payload = record.partition(b"|")
        if stored_head != head:
            continue  # written under older generations: unreachable, left to expire
        try:
            message = message_type.FromString(payload)
        except DecodeError as exc:
            raise Unpatchable("a cached value does not parse") from exc
        changed = edit(message)
        if changed is DROP:
            out.append((name, record, b""))
            continue
        body = payload if changed is None else changed.SerializeToString()
        out.append((name, record, new_head + b"|" + body))
    return out
