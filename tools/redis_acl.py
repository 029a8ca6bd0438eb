"""A Redis ACL user of one ``make run`` stack: its own name and random password, created on the
Redis the stack uses and deleted when the stack stops.

The services then reach Redis with credentials (``REDIS_URL`` carries them, a ``SecretStr``
setting), as in compose and Kubernetes. The user may run the data commands the services use on
any key and channel, but no administrative or dangerous command (``CONFIG``, ``FLUSHALL``,
``KEYS``, ``ACL``...). Skipped for a URL that already has credentials and for Redis Cluster URLs.
On a development machine the shared Redis often keeps its password-less default user for other
stacks; that is the machine's setting, not the portal's.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import redis.asyncio as aioredis

from tools.infra import with_credentials

Drop = Callable[[], Awaitable[None]]

RULES = ("on", "~*", "&*", "+@all", "-@admin", "-@dangerous")


async def stack_user(url: str, stack: str) -> tuple[str, Drop | None]:
    """``(url with the new user's credentials, drop)``; ``(url, None)`` when skipped."""
    parts = urlsplit(url)
    if parts.password or parts.username or parts.scheme.endswith("+cluster"):
        return url, None
    user = f"portal-{stack}-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(24)
    admin = aioredis.from_url(url, socket_connect_timeout=2)
    await admin.execute_command("ACL", "SETUSER", user, "reset", *RULES, f">{password}")

    async def drop() -> None:
        try:
            await admin.execute_command("ACL", "DELUSER", user)
        finally:
            await admin.aclose()

    return with_credentials(url, user, password), drop
