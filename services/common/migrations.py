"""A minimal, tested migration runner: versioned SQL files per service schema.

Why our own and not Alembic/yoyo: each service owns one Postgres schema and writes plain SQL with
asyncpg; Alembic would bring SQLAlchemy for nothing else, and yoyo is synchronous (psycopg).
The runner is small and does the few things that matter:

- files ``services/<svc>/migrations/NNNN_<name>.sql``, applied in version order, each in its own
  transaction, recorded in ``<schema>.schema_migrations`` with a checksum;
- a Postgres advisory lock per schema, so replicas starting together apply each file once;
- an applied file whose content changed is an error (write a new migration instead);
- the same call is used by the services at start (``make run``), by the tests, and by a
  deployment step (``python -m services.common.migrations <svc>...``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger("migrations")

SERVICES_DIR = Path(__file__).resolve().parent.parent
FILE_PATTERN = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load(folder: Path) -> list[Migration]:
    migrations = []
    for path in sorted(folder.glob("*.sql")):
        match = FILE_PATTERN.match(path.name)
        if match is None:
            raise MigrationError(f"bad migration file name: {path.name} (want NNNN_name.sql)")
        migrations.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {folder}")
    return migrations


def _lock_key(schema: str) -> int:
    return zlib.crc32(f"portal-migrations:{schema}".encode())


async def migrate(conn: asyncpg.Connection, schema: str, migrations: list[Migration]) -> list[int]:
    """Apply what is missing; return the versions applied now."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise MigrationError(f"bad schema name {schema!r}")
    applied_now: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _lock_key(schema))
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        # `schema` is an identifier checked against a strict pattern above, never user input.
        rows = await conn.fetch(f"SELECT version, checksum FROM {schema}.schema_migrations")  # noqa: S608
        done = {r["version"]: r["checksum"] for r in rows}
        for m in migrations:
            if m.version in done:
                if done[m.version] != m.checksum:
                    raise MigrationError(
                        f"{schema} migration {m.version:04d}_{m.name} changed after it was "
                        "applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(f"SET LOCAL search_path TO {schema}, public")
                await conn.execute(m.sql)
                await conn.execute(
                    f"INSERT INTO {schema}.schema_migrations (version, name, checksum) "  # noqa: S608
                    "VALUES ($1, $2, $3)",
                    m.version,
                    m.name,
                    m.checksum,
                )
            applied_now.append(m.version)
            log.info("migration_applied", schema=schema, version=m.version, name=m.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _lock_key(schema))
    return applied_now


async def migrate_service(database_url: str, service: str) -> list[int]:
    """Apply ``services/<service>/migrations`` to the schema named after the service."""
    conn = await asyncpg.connect(database_url)
    try:
        return await migrate(conn, service, load(SERVICES_DIR / service / "migrations"))
    finally:
        await conn.close()


def main() -> None:
    # Here, not at the top: the services import this module to migrate at start and never parse a
    # command line (argparse is ~0.5 MiB resident; services/common/lean.py).
    import argparse

    parser = argparse.ArgumentParser(description="Apply service migrations.")
    parser.add_argument("services", nargs="+")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    if not args.database_url:
        parser.error("DATABASE_URL is not set")

    async def run() -> None:
        for service in args.services:
            applied = await migrate_service(args.database_url, service)
            print(f"{service}: applied {applied or 'nothing (up to date)'}")

    asyncio.run(run())


if __name__ == "__main__":
    main()
