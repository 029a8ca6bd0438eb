"""``tools/world.py`` on a real Postgres and Redis: a new world, the same world again, every kind
of mismatch (refused with the fix), the fresh-world wipe; and ``make run``'s supervisor reporting
a mismatch at start instead of starting."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from tools import infra, world
from tools.stack import ROOT


@pytest.fixture
async def place(tmp_path: Path) -> AsyncIterator[world.WorldPlace]:
    env_database, env_redis = infra.urls_from_env()
    database_url = infra.with_database(env_database, f"portal_world_{uuid.uuid4().hex[:10]}")
    await infra.create_database(database_url)
    namespace = f"portal_world_test_{uuid.uuid4().hex[:8]}"
    yield world.WorldPlace(database_url, env_redis, tmp_path / "sandboxes", namespace)
    await infra.drop_database(database_url)
    await world.wipe_cache(env_redis, namespace)


async def execute(place: world.WorldPlace, sql: str) -> None:
    conn = await asyncpg.connect(place.database_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_a_new_world_then_the_same_world(place: world.WorldPlace) -> None:
    created = await world.settle(place)
    assert world.sandbox_world(place.state_dir) == created
    await execute(place, "CREATE SCHEMA identity; CREATE TABLE identity.users (id int)")
    (place.state_dir / "whmcs.pickle").write_bytes(b"saved state")
    assert await world.settle(place) == created


async def test_sandbox_state_gone_is_refused(place: world.WorldPlace) -> None:
    await world.settle(place)
    (place.state_dir / world.WORLD_FILE).unlink()
    with pytest.raises(world.WorldMismatch, match="no saved state") as refused:
        await world.settle(place)
    assert "make run FRESH=1" in str(refused.value)


async def test_database_of_another_world_is_refused(place: world.WorldPlace) -> None:
    await world.settle(place)
    await execute(place, "UPDATE public.portal_world SET id = 'another'")
    with pytest.raises(world.WorldMismatch, match="belongs to world another") as refused:
        await world.settle(place)
    assert place.database_name in str(refused.value)


async def test_database_without_world_is_refused(place: world.WorldPlace) -> None:
    await world.settle(place)
    await execute(place, "DROP TABLE public.portal_world")
    with pytest.raises(world.WorldMismatch, match="has no world"):
        await world.settle(place)


async def test_database_with_data_of_an_unkept_run_is_refused(place: world.WorldPlace) -> None:
    await execute(place, "CREATE SCHEMA identity; CREATE TABLE identity.users (id int)")
    with pytest.raises(world.WorldMismatch, match=r"holds data \(identity\.users"):
        await world.settle(place)
    assert world.sandbox_world(place.state_dir) is None  # nothing was created


async def test_sandbox_files_without_a_world_are_refused(place: world.WorldPlace) -> None:
    place.state_dir.mkdir(parents=True)
    (place.state_dir / "whmcs.pickle").write_bytes(b"saved state")
    with pytest.raises(world.WorldMismatch, match=r"no world id \(whmcs\.pickle\)"):
        await world.settle(place)


async def test_fresh_world_wipes_both_and_the_cache_namespace(place: world.WorldPlace) -> None:
    old = await world.settle(place)
    await execute(place, "CREATE SCHEMA identity; CREATE TABLE identity.users (id int)")
    (place.state_dir / "whmcs.pickle").write_bytes(b"saved state")
    redis = aioredis.from_url(place.redis_url)
    other = f"not_{place.cache_namespace}:{{u:1}}:billing:x"
    try:
        keys = {f"{place.cache_namespace}:{{u:{n}}}:billing:invoices:v1": n for n in range(1200)}
        await redis.mset(keys)
        await redis.set(other, 1)
        assert await world.wipe(place) == 1200
        assert await redis.keys(f"{place.cache_namespace}:*") == []
        assert await redis.get(other) == b"1"  # another namespace is left alone
    finally:
        await redis.delete(other)
        await redis.aclose()
    assert not place.state_dir.exists()
    await infra.create_database(place.database_url)
    new = await world.settle(place)
    assert new != old
    conn = await asyncpg.connect(place.database_url)
    try:
        assert await world.database_tables(conn) == []
    finally:
        await conn.close()


async def test_make_run_reports_a_mismatch_at_start(
    place: world.WorldPlace, tmp_path: Path
) -> None:
    """The supervisor settles the world before starting anything: it exits 2 with the reason and
    the fix, and starts no process (so no port is used)."""
    await world.settle(place)
    await execute(place, "UPDATE public.portal_world SET id = 'another'")
    env = {**os.environ, "DATABASE_URL": place.database_url, "REDIS_URL": place.redis_url,
           "CACHE_NAMESPACE": place.cache_namespace}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tools.supervisor", "--run-dir", str(tmp_path),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 2, (out, err)
    report = err.decode()
    assert "start-up refused" in report and "belongs to world another" in report
    assert "make run FRESH=1" in report and place.cache_namespace in report
    assert "portal is ready" not in out.decode()
