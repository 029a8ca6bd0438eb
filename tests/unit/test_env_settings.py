"""services/common/settings.py: how the services read their variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from services.billing.settings import BillingSettings
from services.commerce.settings import CommerceSettings
from services.identity.settings import IdentitySettings


def test_prefixed_shared_and_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_PORT", "5555")
    monkeypatch.setenv("billing_port", "6666")  # names match in any case
    monkeypatch.setenv("database_url", "postgresql://u@h/db")  # a shared one, no prefix
    monkeypatch.setenv("LOG_JSON", "true")
    monkeypatch.setenv("TLS_CA_FILE", "/certs/ca.pem")
    identity = IdentitySettings()
    assert identity.port == 5555
    assert identity.database_url.get_secret_value() == "postgresql://u@h/db"
    assert identity.log_json is True
    assert identity.tls_ca_file == Path("/certs/ca.pem")
    assert {"port", "database_url", "log_json", "tls_ca_file"} <= identity.model_fields_set
    assert BillingSettings().port == 6666
    # Another service's prefix is not this one's: identity's port is not billing's.
    assert BillingSettings().port != 5555


def test_keywords_win_and_defaults_stay_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_PORT", "5555")
    monkeypatch.delenv("REDIS_URL", raising=False)
    identity = IdentitySettings(port=7777, redis_url=SecretStr("redis://r:1/0"))
    assert identity.port == 7777
    assert identity.redis_url.get_secret_value() == "redis://r:1/0"
    assert "jwt_issuer" not in identity.model_fields_set


def test_nested_settings_read_their_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FULFILLMENT_CONCURRENCY", "3")
    monkeypatch.setenv("FULFILLMENT_ENABLED", "false")
    commerce = CommerceSettings()
    assert commerce.fulfillment.concurrency == 3
    assert commerce.fulfillment.enabled is False


def test_a_bad_value_stops_with_the_variable_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IDENTITY_PORT", "not-a-port")
    with pytest.raises(SystemExit) as stopped:
        IdentitySettings.load()
    assert stopped.value.code == 2
    assert "IDENTITY_PORT: Input should be a valid integer" in capsys.readouterr().err


def test_settings_are_frozen() -> None:
    identity = IdentitySettings()
    with pytest.raises(ValueError, match="frozen"):
        identity.port = 1
