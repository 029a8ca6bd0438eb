"""Make sure Postgres and Redis answer, and that the portal's database exists.

Order of preference: the URLs given in ``DATABASE_URL``/``REDIS_URL``; servers already listening
on the default ports; the machine's own Postgres cluster (``pg_ctlcluster``); throwaway instances
started from the installed binaries into ``.run/`` (stopped with the stack).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis.asyncio as aioredis

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/portal"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def postgres_answers(url: str) -> bool:
    try:
        conn = await asyncpg.connect(with_database(url, "postgres"), timeout=2)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


async def redis_answers(url: str) -> bool:
    client = aioredis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(await client.ping())
    except (OSError, aioredis.RedisError):
        return False
    finally:
        await client.aclose()


def _start_system_postgres() -> bool:
    ctl = shutil.which("pg_ctlcluster")
    clusters = sorted(Path("/etc/postgresql").glob("*/main"))
    if ctl is None or not clusters:
        return False
    version = clusters[-1].parent.name
    subprocess.run([ctl, "--skip-systemctl-redirect", version, "main", "start"], check=False)
    return True


async def ensure_postgres(url: str) -> None:
    if await postgres_answers(url):
        return
    if url == DEFAULT_DATABASE_URL and _start_system_postgres():
        for _ in range(50):
            if await postgres_answers(url):
                return
            await asyncio.sleep(0.2)
    raise RuntimeError(
        f"Postgres does not answer at {urlsplit(url).netloc}: start it or set DATABASE_URL"
    )


def redis_command(url: str, run_dir: Path) -> list[str] | None:
    """The argv of a throwaway Redis for ``url``, or None if redis-server is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port = urlsplit(url).port or 6379
    run_dir.mkdir(parents=True, exist_ok=True)
    return [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(run_dir),
    ]


async def create_database(url: str) -> None:
    """Create the database named in ``url`` if it does not exist."""
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # Identifiers cannot be parameters; quote it.
            await conn.execute('CREATE DATABASE "{}"'.format(name.replace('"', '""')))
    finally:
        await conn.close()


async def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await conn.execute(
            'DROP DATABASE IF EXISTS "{}" WITH (FORCE)'.format(name.replace('"', '""'))
        )
    finally:
        await conn.close()


def urls_from_env() -> tuple[str, str]:
    return (
        os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
    )
