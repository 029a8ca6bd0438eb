"""Settings of the Freebit sandbox: defaults are the development values (``docs/operations.md``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

PLAN_CODES = frozenset({"PNEW_3G", "PNEW_10G", "PNEW_V10G"})


@dataclass(frozen=True)
class FreebitSettings:
    oem_id: str = "PORTALDEV"
    oem_key: str = "portal-dev-key"
    auth_key_ttl: float = 1800.0  # seconds an authKey stays valid
    activation_delay: float = 5.0  # requested → active (the real platform: up to ~10 minutes)
    cancel_delay: float = 5.0  # cancel requested → cancelled
    master_account: str = ""  # "" accepts any non-empty masterAccount/masterPassword pair
    master_password: str = ""
    account_detail_path: str = "master/getAcnt"  # PA03-02's path is not public

    def __repr__(self) -> str:
        hidden = {"oem_key", "master_password"}
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in hidden}
        return f"FreebitSettings({shown})"

    def with_overrides(self, overrides: Mapping[str, Any]) -> FreebitSettings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


ENV_PREFIX = "FREEBIT_SANDBOX_"


def settings_from_env(env: Mapping[str, str] | None = None) -> FreebitSettings:
    """``FREEBIT_SANDBOX_<FIELD>`` (e.g. ``FREEBIT_SANDBOX_ACTIVATION_DELAY``) overrides a field."""
    source = os.environ if env is None else env
    defaults = FreebitSettings()
    values: dict[str, Any] = {}
    for f in fields(FreebitSettings):
        raw = source.get(ENV_PREFIX + f.name.upper())
        if raw is not None:
            values[f.name] = type(getattr(defaults, f.name))(raw)
    return defaults.with_overrides(values)
