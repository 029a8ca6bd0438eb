"""Which unexpected exceptions are a dependency being down rather than a bug.

Postgres refusing or dropping connections (a restart, a failover, a network cut) must reach the
client as the documented ``UPSTREAM_UNAVAILABLE`` "try again later" (HTTP 503), not as
``INTERNAL``. The error-mapping interceptor of every service asks :func:`is_outage`; asyncpg is
only consulted when the process has loaded it (billing and support never do), so this module
imports nothing heavy.
"""

from __future__ import annotations

import sys


def is_outage(exc: BaseException) -> bool:
    """True for a refused, reset or timed-out connection, and for asyncpg's errors of a server
    that is down, restarting, shutting down or out of connections (including asyncpg's internal
    protocol-state errors on a connection being torn down)."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    pg = sys.modules.get("asyncpg")
    if pg is None:
        return False
    transient = (
        pg.PostgresConnectionError,  # SQLSTATE 08: connection failure, does not exist...
        pg.OperatorInterventionError,  # 57: admin/crash shutdown, cannot connect now, canceled
        pg.InsufficientResourcesError,  # 53: too many connections, out of memory or disk
    )
    if isinstance(exc, transient):
        return True
    # asyncpg's own state machine tripping over a connection the server is tearing down (seen
    # while Postgres restarts: "cannot switch to state 11; another operation (2) is in progress",
    # a pooled connection still consuming the shutdown error). Nothing was done; try again later.
    if isinstance(exc, pg.InternalClientError):
        return True
    # The client side of a broken connection ("connection is closed" and the like).
    return isinstance(exc, pg.InterfaceError) and "connection" in str(exc).lower()
