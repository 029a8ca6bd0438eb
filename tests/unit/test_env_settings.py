"""services/common/settings.py: how the services read their variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.billing.settings import BillingSettings
from services.commerce.fulfillment.settings import FulfillmentSettings
from services.commerce.settings import CommerceSettings
from services.common.envsettings import Settings, SettingsError
from services.common.settings import SecretStr
from services.identity.settings import IdentitySettings
from services.support.settings import SupportSettings


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
    assert {"port", "database_url", "log_json", "tls_ca_file"} <= identity.fields_set
    assert BillingSettings().port == 6666
    # Another service's prefix is not this one's: identity's port is not billing's.
    assert BillingSettings().port != 5555


def test_keywords_win_and_defaults_stay_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_PORT", "5555")
    monkeypatch.delenv("REDIS_URL", raising=False)
    identity = IdentitySettings(port=7777, redis_url=SecretStr("redis://r:1/0"))
    assert identity.port == 7777
    assert identity.redis_url.get_secret_value() == "redis://r:1/0"
    assert "jwt_issuer" not in identity.fields_set


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
    assert "IDENTITY_PORT: must be a whole number" in capsys.readouterr().err


def test_settings_are_frozen() -> None:
    identity = IdentitySettings()
    with pytest.raises(AttributeError, match="read-only"):
        identity.port = 1  # type: ignore[misc]
    with pytest.raises(AttributeError, match="read-only"):
        del identity.port


def test_every_bad_value_is_reported_at_once_by_its_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IDENTITY_PORT", "50051.5")
    monkeypatch.setenv("LOG_JSON", "maybe")
    monkeypatch.setenv("JWKS_MAX_AGE", "nan")
    monkeypatch.setenv("CACHE_NAMESPACE", "a:b")
    monkeypatch.setenv("FULFILLMENT_CONCURRENCY", "many")
    monkeypatch.setenv("SUPPORT_DIRECTORY_TIMEOUT_S", "0")
    for cls in (IdentitySettings, CommerceSettings, SupportSettings):
        with pytest.raises(SystemExit) as stopped:
            cls.load()
        assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "IDENTITY_PORT: must be a whole number, not '50051.5'" in err
    assert "LOG_JSON: must be a boolean" in err
    assert "JWKS_MAX_AGE: must be a finite number" in err
    assert "CACHE_NAMESPACE: cache namespace must match" in err
    assert "FULFILLMENT_CONCURRENCY: must be a whole number" in err  # nested, by its own name
    assert "SUPPORT_DIRECTORY_TIMEOUT_S: must be greater than 0" in err
    assert err.count("invalid configuration:") == 3
    with pytest.raises(SettingsError) as bad:
        IdentitySettings()
    assert {name for name, _ in bad.value.problems} == {
        "IDENTITY_PORT",
        "LOG_JSON",
        "JWKS_MAX_AGE",
        "CACHE_NAMESPACE",
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("On", True),
        ("1", True),
        ("y", True),
        ("FALSE", False),
        ("no", False),
        ("0", False),
        (" off ", False),
        ("", None),
    ],
)
def test_booleans_and_an_empty_optional(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool | None
) -> None:
    monkeypatch.setenv("LOG_JSON", raw)  # bool | None: empty is None (unset)
    assert IdentitySettings().log_json is expected


def test_optional_paths_numbers_and_secrets_convert(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLS_CERT_FILE", "")
    monkeypatch.setenv("JWKS_URL", "")
    monkeypatch.setenv("IDENTITY_LINK_FAILURE_FLOOR_S", " 0.25 ")
    monkeypatch.setenv("IDENTITY_DB_POOL_MAX", "+12")
    monkeypatch.setenv("WHMCS_SECRET", "s3cret")
    identity = IdentitySettings()
    assert identity.tls_cert_file is None and not identity.mesh_tls
    assert identity.jwks_url is None
    assert identity.link_failure_floor_s == 0.25
    assert identity.db_pool_max == 12
    assert identity.whmcs_secret == SecretStr("s3cret")
    assert "s3cret" not in repr(identity) and "s3cret" not in str(identity.whmcs_secret)
    assert repr(identity.whmcs_secret) == "SecretStr('**********')"
    assert IdentitySettings(jwks_file="/k/jwks.json").jwks_file == Path("/k/jwks.json")


def test_keywords_are_checked_like_variables() -> None:
    with pytest.raises(TypeError, match="no setting prot"):
        IdentitySettings(prot=1)
    with pytest.raises(SettingsError, match="IDENTITY_PORT: must be a whole number"):
        IdentitySettings(port="x")
    with pytest.raises(SettingsError, match="IDENTITY_PORT: must be a whole number"):
        IdentitySettings(port=True)
    with pytest.raises(SettingsError, match="SUPPORT_DIRECTORY_TIMEOUT_S: must be greater"):
        SupportSettings(directory_timeout_s=-1)


def test_replace_converts_checks_and_keeps_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FULFILLMENT_LEASE_S", "9")
    quick = FulfillmentSettings(concurrency=2)
    monkeypatch.setenv("FULFILLMENT_LEASE_S", "99")  # not read again
    changed = quick.replace(retry_max_s="5")
    assert (changed.concurrency, changed.lease_s, changed.retry_max_s) == (2, 9.0, 5.0)
    assert quick.retry_max_s == 60.0 and changed != quick
    assert changed.fields_set == {"concurrency", "lease_s", "retry_max_s"}
    assert quick.replace() == quick and hash(quick.replace()) == hash(quick)
    with pytest.raises(SettingsError, match="FULFILLMENT_CONCURRENCY"):
        quick.replace(concurrency="x")


def test_secrets_and_tls_files_are_required_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("DATABASE_URL", "BILLING_PAGE_TOKEN_SECRET", "TLS_CA_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("WHMCS_SECRET", "set")
    missing = BillingSettings().missing_outside_development()
    assert "WHMCS_SECRET" not in missing
    assert {"BILLING_PAGE_TOKEN_SECRET", "DATABASE_URL", "TLS_CA_FILE"} <= set(missing)
    # A mesh TLS file set empty is unset (None), and still missing: never plaintext by mistake.
    monkeypatch.setenv("TLS_CA_FILE", "")
    monkeypatch.setenv("TLS_CERT_FILE", "/certs/billing.pem")
    missing = BillingSettings().missing_outside_development()
    assert "TLS_CA_FILE" in missing and "TLS_CERT_FILE" not in missing
    monkeypatch.setenv("PORTAL_ENV", "development")
    assert BillingSettings().missing_outside_development() == []


def test_an_unsupported_annotation_fails_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match="unsupported setting type"):

        class Odd(Settings, env_prefix="ODD_"):
            items: list[str] = []


def test_all_fields_reach_into_nested_settings() -> None:
    variables = {f.variable: f for f in CommerceSettings.all_fields()}
    assert {"COMMERCE_PORT", "DATABASE_URL", "FULFILLMENT_CONCURRENCY"} <= set(variables)
    assert variables["FULFILLMENT_FREEBIT_MASTER_PASSWORD"].secret
    assert "" not in variables  # the nested class itself is no variable


def test_the_near_copies_life_is_zero_or_more(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.common.upstreams import cache

    assert BillingSettings().cache_near_life_s == 1.0
    monkeypatch.setenv("CACHE_NEAR_LIFE_S", "0")
    settings = BillingSettings()
    assert settings.cache_near_life_s == 0.0
    assert cache(settings, "billing")._near is None  # off: every hit reads Redis
    assert cache(BillingSettings(cache_near_life_s=2.5), "billing")._near is not None
    monkeypatch.setenv("CACHE_NEAR_LIFE_S", "-1")
    with pytest.raises(SettingsError) as bad:
        BillingSettings()
    assert bad.value.problems == [("CACHE_NEAR_LIFE_S", "must be 0 (off) or more")]
