"""Commerce settings: ``COMMERCE_*`` variables plus the shared ones."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class CommerceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="COMMERCE_", extra="ignore", frozen=True)

    port: int = 50053
