"""Support settings: ``SUPPORT_*`` variables plus the shared ones."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class SupportSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SUPPORT_", extra="ignore", frozen=True)

    port: int = 50054
