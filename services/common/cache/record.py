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

# KEYS: value, lock, fill marker, [index, hold,] generation keys...
# ARGV: record, ttl ms, lock token, marker ttl ms, expected generations (joined), each expected
# generation...  The marker (the generations the value was stored under) outlives the value, so a
# later miss can tell a first read from an expiry or an invalidation (``Cache`` miss causes). A
# patchable entry's fill also adds the value's key to the scope's index of the entry (``patch``)
# and, while a writer holds the entry (``Cache.hold``), lives no longer than the hold.
_STORE = """
local ok = true
for i = G, #KEYS do
  if (redis.call('GET', KEYS[i]) or '') ~= ARGV[i + 6 - G] then ok = false end
end
if ok then
  local ttl = tonumber(ARGV[2])
  if G == 6 then
    local held = redis.call('PTTL', KEYS[5])
    if held > 0 and held < ttl then ttl = held end
  end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
  redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[4])
  if G == 6 then
    redis.call('SADD', KEYS[4], KEYS[1])
    redis.call('PEXPIRE', KEYS[4], ARGV[4])
  end
end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return ok and 1 or 0
"""
STORE = "local G = 4\n" + _STORE
STORE_INDEXED = "local G = 6\n" + _STORE
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


# KEYS: index, hold, generation keys (the scope's family generation first), values, their fill
# markers
# ARGV: number of generation keys, expected generations (joined), new family token, new
# generations (joined), generation ttl ms, hold token to release ('' none), the entry's ttl ms,
# then per value: the record read, the record to write ('' drops the value).
# Applies only if the generations and every value are still what was read; then replaces the
# family's generation (a fill that read the old one stores nothing, as after an invalidation) and
# writes every value kept under the new one, keeping its TTL. A released hold that leaves no
# writer gives the values the entry's whole TTL back. The index keeps the values written.
PATCH = """
local ngen = tonumber(ARGV[1])
local parts = {}
for i = 1, ngen do parts[i] = redis.call('GET', KEYS[2 + i]) or '' end
if table.concat(parts, '.') ~= ARGV[2] then return 0 end
local n = (#KEYS - 2 - ngen) / 2
for j = 1, n do
  if redis.call('GET', KEYS[2 + ngen + j]) ~= ARGV[6 + 2 * j] then return 0 end
end
local whole = false
if ARGV[6] ~= '' then
  redis.call('SREM', KEYS[2], ARGV[6])
  whole = redis.call('EXISTS', KEYS[2]) == 0
end
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[5])
redis.call('DEL', KEYS[1])
for j = 1, n do
  local key = KEYS[2 + ngen + j]
  local ttl = redis.call('PTTL', key)
  local record = ARGV[7 + 2 * j]
  if ttl > 0 and record ~= '' then
    if whole then ttl = ARGV[7] end
    redis.call('SET', key, record, 'PX', ttl)
    redis.call('SET', KEYS[2 + ngen + n + j], ARGV[4], 'PX', ARGV[5])
    redis.call('SADD', KEYS[1], key)
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return 1
"""
# KEYS: index, hold, notes.  ARGV: hold token, hold ttl ms, more notes...
# Adds the token to the hold, the token and the other notes to the notes, makes both live at
# least the hold's ttl, and caps every indexed value's remaining TTL at it: while a writer holds
# the entry, a value it may leave wrong (it dies before its edit) does not outlive the hold.
HOLD = """
local ttl = tonumber(ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1], unpack(ARGV, 3))
for _, key in ipairs({KEYS[2], KEYS[3]}) do
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
for _, value in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('PTTL', value) > ttl then redis.call('PEXPIRE', value, ttl) end
end
return 1
"""
# KEYS: notes.  ARGV: tokens...  Adds the tokens to notes that exist, keeping their TTL (notes
# live as long as their writer's last hold made them).
NOTE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SADD', KEYS[1], unpack(ARGV))
return 1
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
