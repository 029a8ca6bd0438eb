"""``close_pool`` ends within its grace even when a connection is never released (asyncpg's
``Pool.close()`` alone would wait for it forever): a real pool on the environment's Postgres."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.common.db import close_pool
from tests.helpers.fresh import run_python
from tools import infra


async def test_a_held_connection_does_not_hang_the_close() -> None:
    url, _ = infra.urls_from_env()
    pool = await asyncpg.create_pool(infra.with_database(url, "postgres"), min_size=1, max_size=2)
    held = await pool.acquire()  # a task that never gives its connection back
    await asyncio.wait_for(close_pool(pool, grace=0.2), 5)  # a hang fails here
    assert pool.is_closing()
    with pytest.raises(asyncpg.InterfaceError):  # its connection was terminated
        await held.fetchval("SELECT 1")


async def test_an_idle_pool_closes_gracefully() -> None:
    url, _ = infra.urls_from_env()
    pool = await asyncpg.create_pool(infra.with_database(url, "postgres"), min_size=1, max_size=2)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT 1") == 1
    await close_pool(pool, grace=5)
    assert pool.is_closing()


def test_a_connection_through_a_service_file_with_configparser_deferred(tmp_path) -> None:
    # A process set up as a service is (the deferrals, then the service's imports): configparser,
    # which asyncpg imports for pg_service.conf, is a stand-in; a connection that names a service
    # loads the real parser and connects with the file's host, port, database and user.
    from urllib.parse import urlsplit

    url, _ = infra.urls_from_env()
    parts = urlsplit(infra.with_database(url, "postgres"))
    lines = [
        "[portal_lean]",
        f"host={parts.hostname}",
        f"port={parts.port or 5432}",
        "dbname=postgres",
        f"user={parts.username}",
    ]
    if parts.password:
        lines.append(f"password={parts.password}")
    service_file = tmp_path / "pg_service.conf"
    service_file.write_text("\n".join(lines) + "\n")
    code = (
        "import asyncio, sys\n"
        "from services.common import lean\n"
        "lean.skip_optional_imports()\n"
        "lean.defer_unused_imports()\n"
        "import services.identity.server, asyncpg\n"
        "assert isinstance(sys.modules[lean.CONFIG_FILES].__spec__, lean._Spec)\n"
        "async def main():\n"
        "    conn = await asyncpg.connect(\n"
        f"        'postgresql://?service=portal_lean', servicefile={str(service_file)!r}\n"
        "    )\n"
        "    try:\n"
        "        assert await conn.fetchval('SELECT current_database()') == 'postgres'\n"
        f"        assert await conn.fetchval('SELECT current_user') == {parts.username!r}\n"
        "    finally:\n"
        "        await conn.close()\n"
        "asyncio.run(main())\n"
        "assert not isinstance(sys.modules[lean.CONFIG_FILES].__spec__, lean._Spec)\n"
    )
    run_python(code, timeout=60)
