"""Access tokens for tests, signed with the stack's development key (as identity will sign them)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt


def sign(
    keys_dir: Path,
    sub: str = "user-test",
    *,
    ttl: int = 300,
    iss: str = "portal-identity",
    aud: str = "portal",
    **claims: Any,
) -> str:
    key = (keys_dir / "signing-key.pem").read_bytes()
    kid = json.loads((keys_dir / "jwks.json").read_text())["keys"][0]["kid"]
    now = int(time.time())
    payload = {
        "sub": sub,
        "iss": iss,
        "aud": aud,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": kid})
