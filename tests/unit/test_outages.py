"""Which unexpected exceptions the error-mapping interceptor answers as UPSTREAM_UNAVAILABLE
(a dependency down or restarting) instead of INTERNAL (a bug)."""

from __future__ import annotations

import asyncpg
import pytest

from services.common.interceptors import _as_portal_error
from services.common.outages import is_outage

OUTAGES = [
    ConnectionRefusedError(111, "Connection refused"),  # asyncpg connecting to a stopped server
    ConnectionResetError(104, "Connection reset by peer"),
    TimeoutError(),  # asyncpg's connect timeout
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.InterfaceError("connection is closed"),
    # A pooled connection still consuming the server's shutdown error (seen in the fault suite).
    asyncpg.InternalClientError("cannot switch to state 11; another operation (2) is in progress"),
]
BUGS = [
    ValueError("bad"),
    KeyError("missing"),
    FileNotFoundError(2, "No such file"),
    asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
    asyncpg.UndefinedTableError('relation "identity.users" does not exist'),
    asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
]


@pytest.mark.parametrize("exc", OUTAGES, ids=lambda e: type(e).__name__)
def test_a_dependency_outage_is_upstream_unavailable(exc: Exception) -> None:
    assert is_outage(exc)
    assert _as_portal_error(exc, "/x.v1.S/M").reason == "UPSTREAM_UNAVAILABLE"


@pytest.mark.parametrize("exc", BUGS, ids=lambda e: type(e).__name__)
def test_anything_else_stays_internal(exc: Exception) -> None:
    assert not is_outage(exc)
    assert _as_portal_error(exc, "/x.v1.S/M").reason == "INTERNAL"
