"""SQL of the identity schema (asyncpg, ``$1`` parameters). No business rules here.

Functions take a connection (``asyncpg.Connection`` or the pool, which has the same methods), so a
caller can run several of them in one transaction.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from services.common.emails import email_key

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True)
class UserRow:
    id: str
    email: str
    password_hash: str
    first_name: str
    last_name: str
    created_at: datetime
    customer_number: str


@dataclass(frozen=True)
class LinkRow:
    user_id: str
    whmcs_client_id: int
    sf_account_id: str
    customer_number: str
    email: str


@dataclass(frozen=True)
class NewUser:
    email: str
    password_hash: str
    first_name: str
    last_name: str
    whmcs_client_id: int
    sf_account_id: str
    customer_number: str
    source: str


_USER = """SELECT u.id::text, u.email, u.password_hash, u.first_name, u.last_name, u.created_at,
                  coalesce(l.customer_number, '') AS customer_number
           FROM identity.users u LEFT JOIN identity.account_links l ON l.user_id = u.id"""
_LINK = """SELECT l.user_id::text, l.whmcs_client_id, l.sf_account_id, l.customer_number, u.email
           FROM identity.account_links l JOIN identity.users u ON u.id = l.user_id"""


def _user(row: asyncpg.Record | None) -> UserRow | None:
    return None if row is None else UserRow(*row.values())


def _link(row: asyncpg.Record) -> LinkRow:
    return LinkRow(*row.values())


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


# -- users and links ---------------------------------------------------------------------------
async def insert_user(conn: Conn, new: NewUser) -> str:
    """Insert the user and its mapping (call inside a transaction). Returns the user id."""
    user_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO identity.users (id, email, email_key, password_hash, first_name, last_name) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        user_id, new.email, email_key(new.email), new.password_hash, new.first_name,
        new.last_name,
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO identity.account_links "
        "(user_id, whmcs_client_id, sf_account_id, customer_number, source) "
        "VALUES ($1, $2, $3, $4, $5)",
        user_id, new.whmcs_client_id, new.sf_account_id, new.customer_number, new.source,
    )  # fmt: skip
    return str(user_id)


async def user_by_id(conn: Conn, user_id: str) -> UserRow | None:
    uid = _uuid(user_id)
    if uid is None:
        return None
    return _user(await conn.fetchrow(_USER + " WHERE u.id = $1", uid))


async def user_by_email(conn: Conn, email: str) -> UserRow | None:
    """The user whose address has the same :func:`email_key` as ``email``."""
    return _user(await conn.fetchrow(_USER + " WHERE u.email_key = $1", email_key(email)))


async def email_taken(conn: Conn, email: str) -> bool:
    row = await conn.fetchval("SELECT 1 FROM identity.users WHERE email_key = $1", email_key(email))
    return row is not None


async def fill_email_keys(conn: Conn) -> int:
    """Give every user written before ``email_key`` existed its key (run at start)."""
    rows = await conn.fetch("SELECT id, email FROM identity.users WHERE email_key IS NULL")
    for row in rows:
        await conn.execute("UPDATE identity.users SET email_key = $2 WHERE id = $1",
                           row["id"], email_key(row["email"]))  # fmt: skip
    return len(rows)


async def revoke_sessions_of(conn: Conn, user_id: str) -> int:
    """Revoke every refresh token of the user (all families)."""
    status = await conn.execute(
        "UPDATE identity.refresh_tokens SET revoked_at = now() "
        "WHERE user_id = $1 AND revoked_at IS NULL",
        uuid.UUID(user_id),
    )
    return int(status.split()[-1])


async def update_password_hash(conn: Conn, user_id: str, password_hash: str) -> None:
    await conn.execute(
        "UPDATE identity.users SET password_hash = $2, updated_at = now() WHERE id = $1",
        uuid.UUID(user_id),
        password_hash,
    )


async def links_of_user(conn: Conn, user_id: str) -> LinkRow | None:
    uid = _uuid(user_id)
    if uid is None:
        return None
    row = await conn.fetchrow(_LINK + " WHERE l.user_id = $1", uid)
    return None if row is None else _link(row)


async def links_of_sf_account(conn: Conn, sf_account_id: str) -> list[LinkRow]:
    query = _LINK + " WHERE l.sf_account_id = $1 ORDER BY l.created_at"
    rows = await conn.fetch(query, sf_account_id)
    return [_link(r) for r in rows]


async def links_of_whmcs_client(conn: Conn, whmcs_client_id: int) -> LinkRow | None:
    row = await conn.fetchrow(_LINK + " WHERE l.whmcs_client_id = $1", whmcs_client_id)
    return None if row is None else _link(row)


# -- outbox ------------------------------------------------------------------------------------
async def enqueue(conn: Conn, kind: str, target_id: str, payload: dict[str, Any]) -> int:
    value = await conn.fetchval(
        "INSERT INTO identity.outbox (kind, target_id, payload) VALUES ($1, $2, $3::jsonb) "
        "RETURNING id",
        kind, target_id, json.dumps(payload),
    )  # fmt: skip
    return int(value)


# -- refresh tokens ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RefreshRow:
    family_id: uuid.UUID
    user_id: str
    expires_at: datetime
    rotated: bool
    revoked: bool


async def insert_refresh(
    conn: Conn,
    token_hash: bytes,
    *,
    family_id: uuid.UUID,
    user_id: str,
    expires_at: datetime,
    parent_hash: bytes | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO identity.refresh_tokens "
        "(token_hash, family_id, user_id, parent_hash, expires_at) VALUES ($1, $2, $3, $4, $5)",
        token_hash, family_id, uuid.UUID(user_id), parent_hash, expires_at,
    )  # fmt: skip


async def lock_refresh(conn: asyncpg.Connection, token_hash: bytes) -> RefreshRow | None:
    """The token's row, locked for this transaction (two concurrent rotations serialise)."""
    row = await conn.fetchrow(
        "SELECT family_id, user_id::text, expires_at, rotated_at IS NOT NULL, "
        "revoked_at IS NOT NULL FROM identity.refresh_tokens WHERE token_hash = $1 FOR UPDATE",
        token_hash,
    )
    return None if row is None else RefreshRow(*row.values())


async def mark_rotated(conn: Conn, token_hash: bytes) -> None:
    await conn.execute(
        "UPDATE identity.refresh_tokens SET rotated_at = now() WHERE token_hash = $1", token_hash
    )


async def revoke_family(conn: Conn, family_id: uuid.UUID) -> int:
    status = await conn.execute(
        "UPDATE identity.refresh_tokens SET revoked_at = now() "
        "WHERE family_id = $1 AND revoked_at IS NULL",
        family_id,
    )
    return int(status.split()[-1])


async def family_of(conn: Conn, token_hash: bytes) -> uuid.UUID | None:
    value = await conn.fetchval(
        "SELECT family_id FROM identity.refresh_tokens WHERE token_hash = $1", token_hash
    )
    return value if isinstance(value, uuid.UUID) else None
