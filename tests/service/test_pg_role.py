"""``make run``'s Postgres role (tools/pg_role.py): the services' role owns the portal database and
what is already in it, runs migrations, is no administrator, cannot read another database's
tables, and its password is cleared when the stack stops."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from services.common.migrations import migrate_service
from tools import infra
from tools.pg_role import role_name, stack_role


@pytest.fixture
async def database() -> AsyncIterator[str]:
    admin_url, _ = infra.urls_from_env()
    url = infra.with_database(admin_url, infra.run_name("pgrole"))
    await infra.create_database(url)
    try:
        yield url
    finally:
        await infra.drop_database(url)
        conn = await asyncpg.connect(infra.with_database(admin_url, "postgres"))
        try:
            await conn.execute(f'DROP ROLE IF EXISTS "{role_name(urlsplit(url).path[1:])}"')
        finally:
            await conn.close()


async def _execute(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _as_admin(url: str, query: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


async def test_the_role_owns_the_database_and_what_was_there(database: str) -> None:
    # A schema and a table with a serial column made earlier by the administrator (a database
    # from before the role existed), as migrations of an older run would have left it.
    await _execute(
        database,
        "CREATE SCHEMA legacy",
        "CREATE TABLE legacy.things (id serial PRIMARY KEY, name text)",
    )

    url, drop = await stack_role(database)
    assert drop is not None
    parts = urlsplit(url)
    role = role_name(urlsplit(database).path[1:])
    assert parts.username == role and parts.password

    services = await asyncpg.connect(url)
    try:
        assert await services.fetchval("SELECT current_user") == role
        flags = await services.fetchrow(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles "
            "WHERE rolname = current_user"
        )
        assert tuple(flags) == (False, False, False, False)
        # Owner of what was there: it can write, and change the table's shape.
        await services.execute("INSERT INTO legacy.things (name) VALUES ('a')")
        await services.execute("ALTER TABLE legacy.things ADD COLUMN note text")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await services.execute("CREATE DATABASE pgrole_not_allowed")
    finally:
        await services.close()

    # Migrations run as the role (the services migrate at start).
    applied = await migrate_service(url, "identity")
    assert applied
    owner = await _as_admin(
        database, "SELECT tableowner FROM pg_tables WHERE schemaname = 'identity' LIMIT 1"
    )
    assert owner == role

    # A second start keeps the role, with a new password.
    url2, drop2 = await stack_role(database)
    assert urlsplit(url2).username == role and urlsplit(url2).password != parts.password
    assert drop2 is not None
    await drop2()
    assert await _as_admin(
        database, f"SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = '{role}'"
    )


async def test_other_databases_tables_are_out_of_reach(database: str) -> None:
    admin_url, _ = infra.urls_from_env()
    other = infra.with_database(admin_url, infra.run_name("pgrole_other"))
    await infra.create_database(other)
    try:
        await _execute(other, "CREATE TABLE secrets (v text)", "INSERT INTO secrets VALUES ('x')")
        url, drop = await stack_role(database)
        assert drop is not None
        parts = urlsplit(url)
        intruder = await asyncpg.connect(
            infra.with_database(url, urlsplit(other).path[1:]),
            user=parts.username,
            password=parts.password,
        )
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await intruder.fetch("SELECT * FROM secrets")
        finally:
            await intruder.close()
        await drop()
    finally:
        await infra.drop_database(other)


async def test_urls_with_a_password_are_left_alone() -> None:
    url = "postgresql://someone:secret@127.0.0.1:5432/portal"
    assert await stack_role(url) == (url, None)


async def test_an_administrator_that_is_no_superuser_is_left_alone(database: str) -> None:
    """Without the rights to create the role, the services keep DATABASE_URL's own user."""
    admin_url, _ = infra.urls_from_env()
    plain = f"pgrole_plain_{uuid.uuid4().hex[:8]}"
    await _execute(infra.with_database(admin_url, "postgres"), f'CREATE ROLE "{plain}" LOGIN')
    try:
        url = urlunsplit(
            urlsplit(database)._replace(
                netloc=f"{plain}@{urlsplit(database).netloc.rsplit('@', 1)[-1]}"
            )
        )
        assert await stack_role(url) == (url, None)
    finally:
        await _execute(infra.with_database(admin_url, "postgres"), f'DROP ROLE "{plain}"')
