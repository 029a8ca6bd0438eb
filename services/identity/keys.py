"""Signing keys: the key ring read from the key directory, and the JWKS it publishes.

The directory of ``SIGNING_KEY_FILE`` holds up to three ES256 (P-256) keys in PKCS#8 PEM:

- ``signing-key.pem``: the *current* key, the only one that signs;
- ``next-key.pem``: the *next* key, published ahead so every verifier knows it before it signs;
- ``previous-key.pem``: the key that signed until the last rotation, published until every token
  it signed has expired (access tokens live 15 min), then deleted.

The published JWKS is ``[current, next, previous]`` (current first). Key ids are RFC 7638
thumbprints, so any tool that computes them (``tools/devkeys.py``) agrees. The ring is re-read
when a file in the directory changes, and the JWKS is then also written to ``JWKS_FILE`` (what
Envoy and the services' verifiers read), so that file and ``GetJwks`` always hold the same keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.common.settings import ConfigurationError

log = structlog.get_logger("keys")

CURRENT, NEXT, PREVIOUS = "signing-key.pem", "next-key.pem", "previous-key.pem"
ALGORITHM = "ES256"


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    x, y = _b64(numbers.x), _b64(numbers.y)
    canonical = json.dumps({"crv": "P-256", "kty": "EC", "x": x, "y": y}, separators=(",", ":"))
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=")
    return {"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid.decode(), "use": "sig",
            "alg": ALGORITHM}  # fmt: skip


def _load(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{path.name}: not a P-256 private key")
    return key


@dataclass(frozen=True)
class KeyRing:
    signing: ec.EllipticCurvePrivateKey
    kid: str
    jwks: tuple[dict[str, str], ...]

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.signing, algorithm=ALGORITHM, headers={"kid": self.kid})


def load_ring(folder: Path) -> KeyRing:
    current = _load(folder / CURRENT)
    jwks = [public_jwk(current)]
    for name in (NEXT, PREVIOUS):
        if (folder / name).exists():
            jwk = public_jwk(_load(folder / name))
            if jwk["kid"] not in {k["kid"] for k in jwks}:
                jwks.append(jwk)
    return KeyRing(current, jwks[0]["kid"], tuple(jwks))


def _fingerprint(folder: Path) -> tuple[tuple[str, float], ...]:
    out = []
    for name in (CURRENT, NEXT, PREVIOUS):
        try:
            out.append((name, (folder / name).stat().st_mtime))
        except FileNotFoundError:
            continue
    return tuple(out)


def write_jwks(path: Path, jwks: tuple[dict[str, str], ...]) -> bool:
    """Atomically write ``{"keys": jwks}`` to ``path`` unless it already holds exactly that."""
    text = json.dumps({"keys": list(jwks)}, indent=2)
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


class Keys:
    """The live key ring: :meth:`reload` re-reads it when the directory changed."""

    def __init__(self, signing_key_file: Path, jwks_file: Path | None) -> None:
        self.folder = signing_key_file.parent
        self._jwks_file = jwks_file
        self._seen = _fingerprint(self.folder)
        try:
            self.ring = load_ring(self.folder)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"no usable signing key in {self.folder} ({exc}); create one with "
                f"`python -m tools.devkeys --dir {self.folder}` or point SIGNING_KEY_FILE at it"
            ) from None
        self._publish()

    def _publish(self) -> None:
        if self._jwks_file is not None and write_jwks(self._jwks_file, self.ring.jwks):
            log.info("jwks_file_written", kids=[k["kid"] for k in self.ring.jwks])

    def reload(self) -> bool:
        """Re-read the ring if a key file changed; a broken directory keeps the old ring."""
        seen = _fingerprint(self.folder)
        if seen == self._seen:
            return False
        try:
            ring = load_ring(self.folder)
        except (OSError, ValueError) as exc:
            log.error("key_reload_failed", error=str(exc))
            return False
        self._seen, self.ring = seen, ring
        log.info("keys_reloaded", signing_kid=ring.kid, kids=[k["kid"] for k in ring.jwks])
        self._publish()
        return True
