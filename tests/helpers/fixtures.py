"""Fixtures shared by the whole suite (registered in tests/conftest.py), and factories of fixtures
whose options differ from one conftest to the next.

A factory returns a fixture function; assign it in a conftest or test module under the fixture's
name (``keys_dir = dev_keys_fixture("billing-keys")``). Each assignment is a fixture of its own, so
scopes and instances stay what they were when every conftest wrote the fixture out.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest

from services.common.migrations import migrate_service
from services.common.server import GrpcServer
from tools import infra
from tools.devkeys import ensure_keys


@pytest.fixture
async def channel(server: GrpcServer) -> AsyncIterator[grpc.aio.Channel]:
    """An insecure channel to the ``server`` fixture of the requesting test (a conftest or module
    that has no ``server`` fixture cannot use it)."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        yield ch


def dev_keys_fixture(folder: str, *, scope: Any = "session") -> Any:
    """A fixture: a fresh temp folder named after ``folder`` holding development signing keys
    (``signing-key.pem``, ``jwks.json``) made by ``tools.devkeys.ensure_keys``."""

    @pytest.fixture(scope=scope)
    def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
        made = tmp_path_factory.mktemp(folder)
        ensure_keys(made)
        return made

    return keys


@asynccontextmanager
async def private_database(
    prefix: str, *, migrate: tuple[str, ...] = (), ensure_postgres: bool = True
) -> AsyncIterator[str]:
    """A new database ``<prefix>_<random>`` on the Postgres of the environment, with the
    migrations of the services in ``migrate`` applied in order; yields its URL and drops it on
    leaving. ``ensure_postgres`` first starts the dev Postgres if none is running."""
    base, _ = infra.urls_from_env()
    url = infra.with_database(base, f"{prefix}_{uuid.uuid4().hex[:10]}")
    if ensure_postgres:
        await infra.ensure_postgres(url)
    await infra.create_database(url)
    for service in migrate:
        await migrate_service(url, service)
    yield url
    await infra.drop_database(url)


def private_database_fixture(
    prefix: str,
    *,
    migrate: tuple[str, ...] = (),
    ensure_postgres: bool = True,
    scope: Any = "session",
) -> Any:
    """A fixture yielding the URL of a :func:`private_database`, dropped when its scope ends."""

    @pytest.fixture(scope=scope)
    async def database_url() -> AsyncIterator[str]:
        async with private_database(
            prefix, migrate=migrate, ensure_postgres=ensure_postgres
        ) as url:
            yield url

    return database_url
