"""The secrets a running stack is configured with, for :mod:`tools.logscan`: every ``SecretStr``
setting of the four services as the processes read it from the stack's environment (else its
development default), the password of a database/Redis URL when there is one, the private signing
keys in the keys folder and the mesh private keys in the certificates folder. Public values (JWKS
key ids) are returned separately: they have the shape of a refresh token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from services.billing.settings import BillingSettings
from services.commerce.settings import CommerceSettings
from services.common.secret import SecretStr
from services.common.settings import ServiceSettings
from services.identity.settings import IdentitySettings
from services.support.settings import SupportSettings
from tools.logscan import pem_secrets

SETTINGS: tuple[type[ServiceSettings], ...] = (
    IdentitySettings,
    BillingSettings,
    CommerceSettings,
    SupportSettings,
)
URL_FIELDS = frozenset({"database_url", "redis_url"})


def configured_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """``{ENV_NAME: value}`` of every secret setting (URLs: only their password)."""
    found: dict[str, str] = {}
    for cls in SETTINGS:
        for field in cls.all_fields():
            if not field.secret:
                continue
            given = field.default
            default = given.get_secret_value() if isinstance(given, SecretStr) else ""
            value = env.get(field.variable, default)
            if field.name in URL_FIELDS:
                value = urlsplit(value).password or ""
            if value:
                found[field.variable] = value
    return found


def key_secrets(keys_dir: Path) -> dict[str, str]:
    """The private signing keys (``*.pem``) of a keys folder, line by line."""
    found: dict[str, str] = {}
    for pem in sorted(keys_dir.glob("*.pem")):
        found |= pem_secrets(pem.name, pem.read_text())
    return found


def mesh_key_secrets(certs_dir: Path) -> dict[str, str]:
    """The mesh private keys (``*-key.pem``; the certificates beside them are public)."""
    found: dict[str, str] = {}
    for pem in sorted(certs_dir.glob("*-key.pem")):
        found |= pem_secrets(f"mesh {pem.name}", pem.read_text())
    return found


def public_key_ids(keys_dir: Path) -> set[str]:
    """The ``kid`` of every published key (RFC 7638 thumbprints: public, refresh-token shaped)."""
    jwks = keys_dir / "jwks.json"
    if not jwks.exists():
        return set()
    return {str(k["kid"]) for k in json.loads(jwks.read_text()).get("keys", [])}
