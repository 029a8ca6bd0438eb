"""``make run``'s Redis user (tools/redis_acl.py): the data commands work with its credentials,
administrative ones and a wrong password do not, and the user is gone after the stack stops."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError

from tools import infra
from tools.redis_acl import stack_user


async def test_a_stack_user_reaches_data_but_not_administration() -> None:
    _, url = infra.urls_from_env()
    user_url, drop = await stack_user(url, "test")
    assert drop is not None
    parts = urlsplit(user_url)
    assert parts.username and parts.password
    key = f"portal:test:acl:{uuid.uuid4().hex}"
    client = aioredis.from_url(user_url)
    try:
        await client.set(key, "1", ex=30)
        assert await client.get(key) == b"1"
        await client.publish("portal:test:acl", "x")
        with pytest.raises(NoPermissionError):
            await client.flushall()
        with pytest.raises(NoPermissionError):
            await client.config_get("requirepass")
        with pytest.raises(NoPermissionError):
            await client.execute_command("ACL", "LIST")
        wrong = urlunsplit(
            parts._replace(netloc=f"{parts.username}:wrong@{parts.hostname}:{parts.port}")
        )
        with pytest.raises((AuthenticationError, ResponseError)):
            await aioredis.from_url(wrong).ping()
    finally:
        await client.delete(key)
        await client.aclose()
        await drop()
    with pytest.raises((AuthenticationError, ResponseError)):
        await aioredis.from_url(user_url).ping()


async def test_urls_with_credentials_are_left_alone() -> None:
    url = "redis://someone:secret@127.0.0.1:6379/0"
    assert await stack_user(url, "test") == (url, None)
