"""A Postgres login role of one ``make run`` stack: the services reach the portal database as a
role that owns that database and nothing else, with a random password set on every start and
cleared on stop.

The role is not a superuser and cannot create databases or roles. It owns the database, the
services' schemas and everything in them (migrations run as it), so it can do what the services
need there and, with Postgres' default privileges, nothing in another database's tables. Its name
is stable per database (``<database>_app``) because the objects stay owned by it between runs; the
password is new each start, so credentials of an earlier run stop working (where the server checks
passwords: a cluster whose ``pg_hba.conf`` says ``trust``, as development machines often do,
accepts any password, which is the machine's setting, not the portal's). Skipped for a URL that
already carries a password (whoever wrote it manages the credentials) and, with a warning, when the
URL's user is not a superuser (it could not create the role and hand the database over).
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import asyncpg

from tools.infra import quote_ident, with_credentials

Drop = Callable[[], Awaitable[None]]

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
# Relations to hand over. Sequences owned by a column (serial, identity) move with their table
# and cannot be altered on their own.
OWNED_RELATIONS = """
SELECT c.oid::regclass::text AS name, c.relkind::text AS relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname <> ALL($1::text[]) AND n.nspname NOT LIKE 'pg_temp%'
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = $2)
  AND NOT (c.relkind = 'S' AND EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
ORDER BY c.relkind <> 'r', 1
"""
ALTER = {"r": "TABLE", "p": "TABLE", "f": "FOREIGN TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW",
         "S": "SEQUENCE"}  # fmt: skip


def role_name(database: str) -> str:
    """``<database>_app``, within Postgres' 63-byte identifier limit."""
    return f"{database[:59]}_app"


async def _hand_over(conn: asyncpg.Connection, database: str, role: str) -> None:
    """The database, its non-system schemas and their relations owned by ``role``."""
    quoted = quote_ident(role)
    await conn.execute(f"ALTER DATABASE {quote_ident(database)} OWNER TO {quoted}")
    schemas = await conn.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname <> ALL($1::text[]) "
        "AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast%'",
        list(SYSTEM_SCHEMAS),
    )
    for row in schemas:
        await conn.execute(f"ALTER SCHEMA {quote_ident(row['nspname'])} OWNER TO {quoted}")
    for row in await conn.fetch(OWNED_RELATIONS, list(SYSTEM_SCHEMAS), role):
        # `name` comes from ::regclass::text, which quotes where needed.
        await conn.execute(f"ALTER {ALTER[row['relkind']]} {row['name']} OWNER TO {quoted}")


async def stack_role(url: str) -> tuple[str, Drop | None]:
    """``(url with the role's credentials, drop)``; ``(url, None)`` when skipped. ``url`` names
    the portal database and a user allowed to create roles (the machine's administrator)."""
    parts = urlsplit(url)
    if parts.password:
        return url, None
    database = parts.path.lstrip("/")
    role = role_name(database)
    password = secrets.token_urlsafe(24)
    conn = await asyncpg.connect(url, timeout=5)
    try:
        if not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            print(
                f"warning: {parts.username or 'this user'} is not a superuser; the services "
                "use DATABASE_URL's own credentials",
                file=sys.stderr,
                flush=True,
            )
            return url, None
        async with conn.transaction():
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            # DDL takes no parameters: format() quotes the password as a literal server-side.
            statement = await conn.fetchval(
                f"SELECT format('{verb} ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                "NOREPLICATION NOBYPASSRLS PASSWORD %L', $1::text, $2::text)",
                role,
                password,
            )
            await conn.execute(statement)
            await _hand_over(conn, database, role)
    finally:
        await conn.close()

    async def drop() -> None:
        admin = await asyncpg.connect(url, timeout=5)
        try:
            await admin.execute(f"ALTER ROLE {quote_ident(role)} PASSWORD NULL")
        finally:
            await admin.close()

    return with_credentials(url, role, password), drop
