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
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

import structlog
from google.protobuf.message import DecodeError, Message

from services.common.cache.invalidation import Invalidation, check_scope
from services.common.cache.keys import filled_key, keys_for, schema_hash
from services.common.cache.policy import GENERATION_TTL, Entry
from services.common.cache.record import PATCH
from services.common.cache.scope import Scope

log = structlog.get_logger(__name__)

M = TypeVar("M", bound=Message)
S = TypeVar("S", bound=Scope)


class Unpatchable(Exception):
    """The change cannot be applied to a cached value: the family is dropped instead."""


class Patching(Invalidation):
    async def patch(
        self,
        entry: Entry[S],
        scope: S,
        message_type: type[M],
        edit: Callable[[M], M | None],
    ) -> bool:
        """Apply ``edit`` to every current cached value of ``entry`` in ``scope``, atomically.

        ``edit`` returns the message to store, None to keep it as it is, or raises
        ``Unpatchable``. Returns True when applied (every value edited or kept, the family's
        generation replaced); False when the family was dropped instead (see the module).
        """
        check_scope(entry.family.scope, scope)
        if not entry.patchable:
            raise ValueError(f"entry {entry.name!r} is not patchable")
        client = self._client
        if client is None:
            return True
        schema = schema_hash(cast(Hashable, message_type), entry.version)
        keys = keys_for(self.namespace, entry, scope, schema, cluster=self._cluster)
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
            for _, old, new in pairs:
                argv += [old, new]
            touched = [
                keys.index,
                *keys.generations,
                *(name for name, _, _ in pairs),
                *(filled_key(self.namespace, name, scope) for name, _, _ in pairs),
            ]
            async with asyncio.timeout(self.timeout):
                applied = await client.eval(PATCH, len(touched), *touched, *argv)
        except Unpatchable as exc:
            log.info("cache_patch_dropped", entry=entry.name, reason=str(exc))
            await self.invalidate(scope, entry.family)
            return False
        except Exception as exc:  # any Redis trouble: never raised to the caller
            self._failed("patch", entry.name, exc)
            await self.invalidate(scope, entry.family)
            return False
        self.breaker.success()
        if not applied:
            log.info("cache_patch_dropped", entry=entry.name, reason="concurrent write")
            await self.invalidate(scope, entry.family)
            return False
        return True


def _edited(
    names: list[str],
    values: list[bytes | None],
    head: bytes,
    new_head: bytes,
    message_type: type[M],
    edit: Callable[[M], M | None],
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
        body = payload if changed is None else changed.SerializeToString()
        out.append((name, record, new_head + b"|" + body))
    return out
