"""The migration runner against the real Postgres, in a database of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.common.migrations import Migration, MigrationError, load, migrate
from tests.helpers.fixtures import private_database_fixture

database_url = private_database_fixture("portal_mig", ensure_postgres=False, scope="module")


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


def _schema() -> str:
    return f"s_{uuid.uuid4().hex[:8]}"


M1 = Migration(1, "things", "CREATE TABLE things (id int PRIMARY KEY, name text NOT NULL);")
M2 = Migration(2, "things_colour", "ALTER TABLE things ADD COLUMN colour text;")


async def test_applies_in_order_once(conn: asyncpg.Connection) -> None:
    schema = _schema()
    assert await migrate(conn, schema, [M1]) == [1]
    assert await migrate(conn, schema, [M1, M2]) == [2]
    assert await migrate(conn, schema, [M1, M2]) == []
    await conn.execute(f"INSERT INTO {schema}.things (id, name, colour) VALUES (1, 'a', 'red')")
    rows = await conn.fetch(f"SELECT version, name FROM {schema}.schema_migrations ORDER BY 1")
    assert [(r["version"], r["name"]) for r in rows] == [(1, "things"), (2, "things_colour")]


async def test_failed_migration_leaves_nothing_behind(conn: asyncpg.Connection) -> None:
    schema = _schema()
    broken = Migration(2, "broken", "CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(asyncpg.PostgresError):
        await migrate(conn, schema, [M1, broken])
    tables = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
    )
    assert {t["table_name"] for t in tables} == {"things", "schema_migrations"}
    versions = await conn.fetch(f"SELECT version FROM {schema}.schema_migrations")
    assert [v["version"] for v in versions] == [1]


async def test_changed_applied_migration_is_refused(conn: asyncpg.Connection) -> None:
    schema = _schema()
    await migrate(conn, schema, [M1])
    edited = Migration(1, "things", M1.sql + " -- edited")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(conn, schema, [edited])


async def test_concurrent_runners_apply_each_file_once(database_url: str) -> None:
    schema = _schema()
    slow = Migration(1, "slow", "SELECT pg_sleep(0.3); CREATE TABLE once (id int);")
    conns = [await asyncpg.connect(database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c, schema, [slow]) for c in conns))
    finally:
        for c in conns:
            await c.close()
    assert sorted(results) == [[], [], [1]]


def test_file_names_are_checked(tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("SELECT 1;")
    (tmp_path / "0002_second.sql").write_text("SELECT 2;")
    assert [(m.version, m.name) for m in load(tmp_path)] == [(1, "first"), (2, "second")]
    (tmp_path / "3_bad.sql").write_text("SELECT 3;")
    with pytest.raises(MigrationError, match="bad migration file name"):
        load(tmp_path)


async def test_schema_names_are_checked(conn: asyncpg.Connection) -> None:
    with pytest.raises(MigrationError):
        await migrate(conn, "x; DROP TABLE y", [M1])
