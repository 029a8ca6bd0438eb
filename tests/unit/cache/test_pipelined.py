"""The pipelined reads' own command packing (no I/O): byte for byte what redis-py sends."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection

from services.common.cache.pipelined import _mget_command


@pytest.mark.parametrize(
    "keys",
    [
        ("ns:{u:abc}:billing:invoices:v1a2b3c4d",),
        ("ns:{u:%C3%A9}:x", "ns:{u:%C3%A9}:_gen:invoices", "ns:{g:all}:_genall:invoices"),
        ("ключ:{u:日本}", "", "a" * 300),
    ],
)
def test_mget_is_packed_as_redis_py_packs_it(keys: tuple[str, ...]) -> None:
    assert _mget_command(keys) == b"".join(Connection().pack_command("MGET", *keys))
