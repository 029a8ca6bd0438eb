"""Make sure Postgres and Redis answer, and that the portal's database exists.

Order of preference: the URLs given in ``DATABASE_URL``/``REDIS_URL``; servers already listening
on the default ports; the machine's own Postgres cluster (``pg_ctlcluster``); throwaway instances
started from the installed binaries into ``.run/`` (children of the supervisor, stopped with the
stack). With no binaries installed at all it says so and stops.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis.asyncio as aioredis

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/portal"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def quote_ident(name: str) -> str:
    """A Postgres identifier quoted for DDL (identifiers cannot be query parameters)."""
    return '"{}"'.format(name.replace('"', '""'))


def with_credentials(url: str, user: str, password: str) -> str:
    """``url`` with ``user:password@`` in place of any credentials it had (URL-safe values)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


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


async def wait_for(probe: Callable[[], Awaitable[bool]], within: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if await probe():
            return True
        await asyncio.sleep(0.2)
    return False


async def ensure_postgres(url: str) -> None:
    """Postgres answers at ``url``, or the machine's own cluster is started for the default URL.
    Raises when neither works (the supervisor then tries a throwaway instance)."""
    if await postgres_answers(url):
        return
    if (
        url == DEFAULT_DATABASE_URL
        and _start_system_postgres()
        and await wait_for(lambda: postgres_answers(url))
    ):
        return
    raise RuntimeError(
        f"Postgres does not answer at {urlsplit(url).netloc}: start it or set DATABASE_URL"
    )


def _postgres_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return candidates[-1].parent if candidates else None


def _as_postgres_user(argv: list[str]) -> list[str]:
    """Postgres refuses to run as root: drop to the ``postgres`` user when we are root."""
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *argv]


def postgres_command(url: str, run_dir: Path) -> list[str] | None:
    """The argv of a throwaway Postgres for ``url`` (data in ``run_dir``, initialised on first
    use, trust auth on 127.0.0.1 only), or None when no Postgres binaries are installed."""
    bindir = _postgres_bindir()
    if bindir is None:
        return None
    data = run_dir / "data"
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(run_dir, "postgres", "postgres")
            shutil.chown(data, "postgres", "postgres")
        subprocess.run(
            _as_postgres_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
    port = urlsplit(url).port or 5432
    return _as_postgres_user(
        [
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(data),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ]
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
            await conn.execute(f"CREATE DATABASE {quote_ident(name)}")
    finally:
        await conn.close()


async def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
    finally:
        await conn.close()


def run_name(prefix: str) -> str:
    """``<prefix>_<random>``: the database name and cache namespace of one test or bench run, so
    runs on one Postgres and Redis (and ``make run`` beside them) never see each other's data."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def urls_from_env() -> tuple[str, str]:
    return (
        os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
    )
