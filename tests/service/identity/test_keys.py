"""Key rotation without downtime: publish next -> switch signing -> retire the old key."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import jwt
import pytest

from services.common.auth import JwksSource, TokenVerifier
from services.common.errors import Unauthenticated
from services.identity.keys import Keys
from tools.devkeys import ensure_keys, retire, rotate


def kids(path: Path) -> list[str]:
    return [k["kid"] for k in json.loads(path.read_text())["keys"]]


def token(keys: Keys, sub: str) -> str:
    now = int(time.time())
    claims = {"sub": sub, "iss": "i", "aud": "a", "iat": now, "exp": now + 60, "jti": sub}
    return keys.ring.sign(claims)


def touch_later(folder: Path) -> None:
    """mtime resolution can be coarse: make the change visible to the fingerprint."""
    later = time.time() + 5
    for pem in folder.glob("*.pem"):
        os.utime(pem, (later, later))


async def test_rotation_keeps_every_token_valid(tmp_path: Path) -> None:
    folder, published = tmp_path / "keys", tmp_path / "published.json"
    ensure_keys(folder)
    keys = Keys(folder / "signing-key.pem", published)
    first, upcoming = kids(published)  # current + next, published from the start
    assert keys.ring.kid == first
    verify = TokenVerifier(JwksSource(file=published), issuer="i", audience="a",
                           refresh_interval=0)  # fmt: skip
    await verify.refresh()
    old_token = token(keys, "old")

    rotate(folder)  # previous <- current, current <- next, new next
    touch_later(folder)
    assert keys.reload()
    assert keys.ring.kid == upcoming
    assert kids(published)[:2] == [upcoming, kids(published)[1]]
    assert first in kids(published)  # the old key stays published during the overlap
    new_token = token(keys, "new")
    assert jwt.get_unverified_header(new_token)["kid"] == upcoming
    # Both verify during the overlap (the verifier already knew the new key as "next").
    assert (await verify.verify(old_token)).user_id == "old"
    assert (await verify.verify(new_token)).user_id == "new"

    retire(folder)  # after the access-token lifetime
    touch_later(folder)
    assert keys.reload()
    assert first not in kids(published)
    fresh = TokenVerifier(JwksSource(file=published), issuer="i", audience="a")
    with pytest.raises(Unauthenticated):
        await fresh.verify(old_token)
    assert (await fresh.verify(new_token)).user_id == "new"


def test_a_broken_key_file_keeps_the_old_ring(tmp_path: Path) -> None:
    ensure_keys(tmp_path)
    keys = Keys(tmp_path / "signing-key.pem", None)
    before = keys.ring.kid
    (tmp_path / "next-key.pem").write_text("garbage")
    touch_later(tmp_path)
    assert not keys.reload()
    assert keys.ring.kid == before
