"""Development signing keys: an ES256 key pair and its JWKS, written to an ignored folder.

``make run`` calls this when ``.run/keys`` holds no key yet. Production keys never come from here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# One definition of the JWK (and its RFC 7638 key id) and of the key file names: identity's.
from services.identity.keys import CURRENT, NEXT, PREVIOUS, public_jwk


def write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """``key`` as unencrypted PKCS#8 PEM, readable by its owner only, replaced atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    tmp.chmod(0o600)
    tmp.replace(path)


def _read_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def write_jwks(folder: Path) -> Path:
    """``jwks.json`` = [current, next, previous] (current first), as identity publishes it."""
    keys = [public_jwk(_read_key(folder / n)) for n in (CURRENT, NEXT, PREVIOUS)
            if (folder / n).exists()]  # fmt: skip
    jwks = folder / "jwks.json"
    text = json.dumps({"keys": keys}, indent=2)
    if not jwks.exists() or jwks.read_text() != text:
        tmp = folder / ".jwks.json.tmp"
        tmp.write_text(text)
        tmp.replace(jwks)
    return jwks


def ensure_keys(folder: Path) -> Path:
    """Create ``signing-key.pem`` (current) and ``next-key.pem`` (published ahead of its use) in
    ``folder`` unless they exist, and ``jwks.json``; return the JWKS path."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in (CURRENT, NEXT):
        if not (folder / name).exists():
            write_private_key(folder / name, ec.generate_private_key(ec.SECP256R1()))
    return write_jwks(folder)


def rotate(folder: Path) -> Path:
    """One rotation step: previous <- current, current <- next, and a fresh next key.

    The new current key was published (as "next") since the last rotation, so every verifier
    already knows it; the old one stays published as "previous" until its tokens expired (run
    :func:`retire` after the access-token lifetime). Identity picks the change up by itself.
    """
    ensure_keys(folder)
    write_private_key(folder / PREVIOUS, _read_key(folder / CURRENT))
    write_private_key(folder / CURRENT, _read_key(folder / NEXT))
    write_private_key(folder / NEXT, ec.generate_private_key(ec.SECP256R1()))
    return write_jwks(folder)


def retire(folder: Path) -> Path:
    """Stop publishing the previous key (after every token it signed has expired)."""
    (folder / PREVIOUS).unlink(missing_ok=True)
    return write_jwks(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path(".run/keys"))
    parser.add_argument("action", nargs="?", choices=["ensure", "rotate", "retire"],
                        default="ensure")  # fmt: skip
    args = parser.parse_args()
    step = {"ensure": ensure_keys, "rotate": rotate, "retire": retire}[args.action]
    print(step(args.dir))


if __name__ == "__main__":
    main()
