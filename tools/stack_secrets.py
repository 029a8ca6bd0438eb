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

from pydantic import AliasChoices, SecretStr

from services.billing.settings import BillingSettings
from services.commerce.settings import CommerceSettings
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


def _env_name(cls: type[ServiceSettings], name: str) -> str:
    alias = cls.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"{cls.model_config.get('env_prefix', '')}{name}".upper()


def configured_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """``{ENV_NAME: value}`` of every secret setting (URLs: only their password)."""
    found: dict[str, str] = {}
    for cls in SETTINGS:
        for name, field in cls.model_fields.items():
            if field.annotation is not SecretStr:
                continue
            var = _env_name(cls, name)
            default = field.default.get_secret_value() if field.default is not None else ""
            value = env.get(var, default)
            if name in URL_FIELDS:
                value = urlsplit(value).password or ""
            if value:
                found[var] = value
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
