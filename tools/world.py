"""One world: the sandboxes' saved state and the portal's database (and its cache) belong together.

The portal's database maps its users to WHMCS client ids and Salesforce record ids that only mean
something in the sandboxes' state they were created in. A *world* is one such pairing, named by a
random id kept in two places: ``<state dir>/world.json`` beside the sandboxes' saved state, and the
one-row table ``public.portal_world`` of the portal database. ``make run`` settles the world before
starting anything: both ids equal is the same world; both absent with nothing saved on either side
is a new world (both get a new id); anything else is a mismatch that would hand the new users ids
the database already gives to others, so start-up stops and says how to start a fresh world.

A ``POST /__sandbox/reset`` to a sandbox of a world removes the world file (the sandbox's ids
start again from the seed), so the next start reports the mismatch.

A fresh world wipes the sandboxes' state, drops the portal database and deletes the deployment's
cache keys. The world file goes first, so a wipe interrupted half-way is reported as a mismatch at
the next start instead of passing for a world.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import redis.asyncio as aioredis

from sandbox.persistence import WORLD_FILE
from services.common.cache.keys import DEFAULT_NAMESPACE, check_namespace
from tools import infra

CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS public.portal_world ("
    "id text PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now())"
)
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


class WorldMismatch(RuntimeError):
    """The portal database and the sandboxes' state are not one world."""


@dataclass(frozen=True)
class WorldPlace:
    """Where one world lives."""

    database_url: str
    redis_url: str
    state_dir: Path
    cache_namespace: str = DEFAULT_NAMESPACE

    @property
    def database_name(self) -> str:
        return urlsplit(self.database_url).path.lstrip("/")

    def fix(self) -> str:
        return (
            "`make run FRESH=1` starts a fresh world: it wipes the sandboxes' state "
            f"({self.state_dir}), the portal database {self.database_name!r} and the Redis keys "
            f"{self.cache_namespace}:* together"
        )


def cache_namespace() -> str:
    """The running deployment's cache namespace (``CACHE_NAMESPACE``; keys start with it)."""
    return check_namespace(os.environ.get("CACHE_NAMESPACE") or DEFAULT_NAMESPACE)


# -- the two halves ---------------------------------------------------------------------------


def sandbox_world(state_dir: Path) -> str | None:
    try:
        data = json.loads((state_dir / WORLD_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return str(data["world"])


def sandbox_state_files(state_dir: Path) -> list[str]:
    if not state_dir.is_dir():
        return []
    return sorted(p.name for p in state_dir.iterdir() if p.name != WORLD_FILE)


async def database_world(conn: asyncpg.Connection) -> str | None:
    if await conn.fetchval("SELECT to_regclass('public.portal_world')") is None:
        return None
    value = await conn.fetchval("SELECT id FROM public.portal_world LIMIT 1")
    return None if value is None else str(value)


async def database_tables(conn: asyncpg.Connection) -> list[str]:
    """The tables of the database besides the world table (the services' schemas)."""
    rows = await conn.fetch(
        "SELECT schemaname || '.' || tablename AS name FROM pg_tables "
        "WHERE schemaname <> ALL($1::text[]) AND NOT (schemaname = 'public' AND "
        "tablename = 'portal_world') ORDER BY 1",
        list(SYSTEM_SCHEMAS),
    )
    return [str(r["name"]) for r in rows]


# -- settling ---------------------------------------------------------------------------------


async def settle(place: WorldPlace) -> str:
    """The id of the world the database and the sandboxes' state share, creating a new world
    when both are empty; raises :class:`WorldMismatch` (with the fix) when they do not agree."""
    state = sandbox_world(place.state_dir)
    conn = await asyncpg.connect(place.database_url)
    try:
        database = await database_world(conn)
        if state is not None and state == database:
            return state
        problem = await _mismatch(place, conn, state, database)
        if problem is not None:
            raise WorldMismatch(f"{problem}\n  fix: {place.fix()}")
        return await _create(place, conn)
    finally:
        await conn.close()


async def _mismatch(
    place: WorldPlace, conn: asyncpg.Connection, state: str | None, database: str | None
) -> str | None:
    name = place.database_name
    if state is not None and database is not None:
        return (
            f"the portal database {name!r} belongs to world {database}, but the sandboxes' state "
            f"in {place.state_dir} is world {state}: the database maps its users to records of "
            "another world"
        )
    if database is not None:
        return (
            f"the portal database {name!r} belongs to world {database}, but the sandboxes have no "
            f"saved state in {place.state_dir} (removed, e.g. by `make clean`): they would start "
            "from their seed data and hand out ids the database already gives to other users"
        )
    if state is not None:
        return (
            f"the sandboxes' state in {place.state_dir} is world {state}, but the portal database "
            f"{name!r} has no world (it was dropped or recreated): their customers are not in it"
        )
    tables = await database_tables(conn)
    if tables:
        return (
            f"the portal database {name!r} holds data ({', '.join(tables[:3])}, ...) from a run "
            "whose sandbox state was not kept: new sign-ups would get ids that the database "
            "already maps to other users"
        )
    files = sandbox_state_files(place.state_dir)
    if files:
        return f"the sandboxes' state in {place.state_dir} has no world id ({', '.join(files)})"
    return None


async def _create(place: WorldPlace, conn: asyncpg.Connection) -> str:
    world = uuid.uuid4().hex
    await conn.execute(CREATE_TABLE)
    await conn.execute("INSERT INTO public.portal_world (id) VALUES ($1)", world)
    place.state_dir.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    (place.state_dir / WORLD_FILE).write_text(
        json.dumps({"world": world, "created": created}) + "\n", encoding="utf-8"
    )
    return world


# -- a fresh world ----------------------------------------------------------------------------


async def wipe(place: WorldPlace) -> int:
    """Wipe the world: the world file first, then the database, the sandboxes' state and the
    cache keys. Returns the number of cache keys deleted."""
    (place.state_dir / WORLD_FILE).unlink(missing_ok=True)
    await infra.drop_database(place.database_url)
    shutil.rmtree(place.state_dir, ignore_errors=True)
    return await wipe_cache(place.redis_url, place.cache_namespace)


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


async def wipe_cache(redis_url: str, namespace: str) -> int:
    """Delete every key of ``namespace`` (``<namespace>:*``) with SCAN + UNLINK."""
    client = aioredis.from_url(redis_url)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"{_glob_escape(namespace)}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(await client.unlink(*batch))
                batch = []
        if batch:
            deleted += int(await client.unlink(*batch))
    finally:
        await client.aclose()
    return deleted
