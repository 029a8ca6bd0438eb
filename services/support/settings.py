"""Support settings: ``SUPPORT_*`` variables plus the shared ones."""

from __future__ import annotations

from services.common.settings import SecretStr, ServiceSettings, setting


class SupportSettings(ServiceSettings, env_prefix="SUPPORT_"):
    port: int = 50054
    # HMAC key of ListCases page tokens (SUPPORT_PAGE_TOKEN_SECRET). One per deployment, shared by
    # every replica; rotating it only invalidates tokens in flight (clients start from page one).
    page_token_secret: SecretStr = SecretStr("portal-dev-support-page-token-secret")
    # Deadline of one call to identity's AccountDirectoryService.
    directory_timeout_s: float = setting(3.0, gt=0)
