"""Access tokens an attacker could build, each wrong in exactly one way, for the token matrix.

Every forgery names a real user (``sub``) and, unless the flaw is elsewhere, carries the right
issuer, audience and times, so the flaw alone is what must get it refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER, AUDIENCE = "portal-identity", "portal"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: dict[str, Any]) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


class Forger:
    """Builds the matrix's tokens for user ``sub`` from the stack's key directory."""

    def __init__(self, keys_dir: Path, sub: str) -> None:
        self.keys_dir, self.sub = keys_dir, sub
        jwks = json.loads((keys_dir / "jwks.json").read_text())
        self.jwk = jwks["keys"][0]
        self.kid = str(self.jwk["kid"])
        self.private_pem = (keys_dir / "signing-key.pem").read_bytes()
        public = serialization.load_pem_private_key(self.private_pem, None).public_key()
        self.public_pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        out = {"sub": self.sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300,
               "jti": uuid.uuid4().hex}  # fmt: skip
        out.update(changes)
        return {k: v for k, v in out.items() if v is not None}

    def es256(self, key: Any = None, headers: dict[str, Any] | None = None, **changes: Any) -> str:
        """Signed ES256 with ``key`` (default: the real signing key), ``kid`` of the real key
        unless ``headers`` say otherwise (``{"kid": None}`` drops it)."""
        head = {"kid": self.kid, **(headers or {})}
        head = {k: v for k, v in head.items() if v is not None}
        signing = key if key is not None else self.private_pem
        return jwt.encode(self.claims(**changes), signing, algorithm="ES256", headers=head)

    def hs256(self, secret: bytes) -> str:
        """HS256 over the real claims with ``secret`` (the algorithm-confusion attack)."""
        signing_input = (
            f"{segment({'alg': 'HS256', 'typ': 'JWT', 'kid': self.kid})}.{segment(self.claims())}"
        )
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(mac)}"

    def unsigned(self, alg: str) -> str:
        return f"{segment({'alg': alg, 'typ': 'JWT', 'kid': self.kid})}.{segment(self.claims())}."

    def valid(self) -> str:
        return self.es256()


def other_ec_key() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def embedded_jwk_token(forger: Forger) -> str:
    """Signed with the attacker's key, which the header carries as ``jwk`` (CVE-2018-0114)."""
    key = ec.generate_private_key(ec.SECP256R1())
    numbers = key.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": b64(numbers.x.to_bytes(32, "big")),
           "y": b64(numbers.y.to_bytes(32, "big"))}  # fmt: skip
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return forger.es256(pem, headers={"kid": None, "jwk": jwk})


def rs256_token(forger: Forger) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return jwt.encode(forger.claims(), pem, algorithm="RS256", headers={"kid": forger.kid})


# name -> builder of the full ``authorization`` header value. The edge (Envoy's jwt_authn)
# refuses all but the ones in REFUSED_BY_SERVICES, which only the services' own check catches.
BAD_TOKENS: dict[str, Callable[[Forger], str]] = {
    "alg none": lambda f: "Bearer " + f.unsigned("none"),
    "alg None": lambda f: "Bearer " + f.unsigned("None"),
    "alg none with the real signature": lambda f: (
        "Bearer " + f.unsigned("none") + f.valid().rsplit(".", 1)[1]
    ),
    "HS256 keyed with the public key PEM": lambda f: "Bearer " + f.hs256(f.public_pem),
    "HS256 keyed with the public JWK": lambda f: (
        "Bearer " + f.hs256(json.dumps(f.jwk, separators=(",", ":")).encode())
    ),
    "HS256 keyed with the kid": lambda f: "Bearer " + f.hs256(f.kid.encode()),
    "HS256 keyed with nothing": lambda f: "Bearer " + f.hs256(b""),
    "RS256 with a key of its own": lambda f: "Bearer " + rs256_token(f),
    "expired": lambda f: "Bearer " + f.es256(exp=int(time.time()) - 300),
    "no exp": lambda f: "Bearer " + f.es256(exp=None),
    "nbf in the future": lambda f: "Bearer " + f.es256(nbf=int(time.time()) + 3600),
    "iat in the future": lambda f: "Bearer " + f.es256(iat=int(time.time()) + 3600),
    "wrong iss": lambda f: "Bearer " + f.es256(iss="https://evil.example"),
    "no iss": lambda f: "Bearer " + f.es256(iss=None),
    "wrong aud": lambda f: "Bearer " + f.es256(aud="someone-else"),
    "no aud": lambda f: "Bearer " + f.es256(aud=None),
    "no sub": lambda f: "Bearer " + f.es256(sub=None),
    "unknown kid": lambda f: "Bearer " + f.es256(headers={"kid": "no-such-key"}),
    "kid path traversal": lambda f: "Bearer " + f.es256(headers={"kid": "../../../dev/null"}),
    "no kid": lambda f: "Bearer " + f.es256(headers={"kid": None}),
    "another EC key with the right kid": lambda f: "Bearer " + f.es256(other_ec_key()),
    "attacker key embedded as jwk": lambda f: "Bearer " + embedded_jwk_token(f),
    "payload swapped under a valid signature": lambda f: (
        "Bearer "
        + ".".join(
            [
                f.valid().split(".")[0],
                segment(f.claims(sub=str(uuid.uuid4()))),
                f.valid().split(".")[2],
            ]
        )
    ),
    "signature truncated": lambda f: "Bearer " + f.valid()[:-10],
    "signature missing": lambda f: "Bearer " + f.valid().rsplit(".", 1)[0] + ".",
    "header only": lambda f: "Bearer " + f.valid().split(".")[0],
    "two segments": lambda f: "Bearer " + f.valid().rsplit(".", 1)[0],
    "four segments": lambda f: "Bearer " + f.valid() + ".AAAA",
    "8 KB of token": lambda f: "Bearer " + f.valid() + "A" * 8192,
    "no Bearer prefix": lambda f: f.valid(),
    "Basic scheme": lambda f: "Basic " + f.valid(),
    "Token scheme": lambda f: "Token " + f.valid(),
    "Bearer and nothing": lambda f: "Bearer",
    "garbage": lambda f: "Bearer not-a-jwt",
    "dots only": lambda f: "Bearer ..",
    "non-base64 segments": lambda f: "Bearer e$J.e%J.s!g",
}
# Envoy checks signature, exp and nbf when present, iss and aud, and tries every key when there
# is no kid; the services also require exp, iat (not in the future), a kid and a sub.
REFUSED_BY_SERVICES = {"iat in the future", "no kid", "no sub"}
