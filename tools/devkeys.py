"""Development signing keys: an ES256 key pair and its JWKS, written to an ignored folder.

``make run`` calls this when ``.run/keys`` holds no key yet. Production keys never come from here.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    x, y = _b64(numbers.x), _b64(numbers.y)
    # RFC 7638 thumbprint as the key id.
    canonical = json.dumps({"crv": "P-256", "kty": "EC", "x": x, "y": y}, separators=(",", ":"))
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=")
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": x,
        "y": y,
        "kid": kid.decode(),
        "use": "sig",
        "alg": "ES256",
    }


def ensure_keys(folder: Path) -> Path:
    """Create ``signing-key.pem`` and ``jwks.json`` in ``folder`` unless they exist; return the
    JWKS path."""
    folder.mkdir(parents=True, exist_ok=True)
    pem, jwks = folder / "signing-key.pem", folder / "jwks.json"
    if pem.exists() and jwks.exists():
        return jwks
    key = ec.generate_private_key(ec.SECP256R1())
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pem.chmod(0o600)
    jwks.write_text(json.dumps({"keys": [public_jwk(key)]}, indent=2))
    return jwks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path(".run/keys"))
    print(ensure_keys(parser.parse_args().dir))


if __name__ == "__main__":
    main()
