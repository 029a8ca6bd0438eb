"""The stored record and the two Lua scripts of the fill path.

A value is stored as ``<generations>|<message bytes>``: ``<generations>`` are the tokens of the
generation keys, joined by ``.``, read at miss time; a lookup only returns the message if they are
still the current ones (``parse``).
"""

from __future__ import annotations

from typing import TypeVar, cast

from google.protobuf.message import Message

from services.common.cache.client import RedisClient

M = TypeVar("M", bound=Message)

# KEYS: value, lock, fill marker, generation keys...
# ARGV: record, ttl ms, lock token, marker ttl ms, expected generations (joined), each expected
# generation...  The marker (the generations the value was stored under) outlives the value, so a
# later miss can tell a first read from an expiry or an invalidation (``Cache`` miss causes).
STORE = """
local ok = true
for i = 4, #KEYS do
  if (redis.call('GET', KEYS[i]) or '') ~= ARGV[i + 2] then ok = false end
end
if ok then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[4])
end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return ok and 1 or 0
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


async def mget(client: RedisClient, keys: tuple[str, ...]) -> list[bytes | None]:
    return cast(list[bytes | None], await client.mget(keys))


def parse(raw: bytes | None, head: bytes, message_type: type[M]) -> M | None:
    """The message of a record written under ``head``; None if absent or stale."""
    if raw is None:
        return None
    stored_head, _, payload = raw.partition(b"|")
    if stored_head != head:
        return None
    return message_type.FromString(payload)
