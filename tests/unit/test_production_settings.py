"""Outside development every secret and the mesh TLS files must be given (no process runs on a
development default); in development the defaults stand."""

from __future__ import annotations

import pytest

from services.billing.settings import BillingSettings


def test_development_allows_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_ENV", "development")
    assert BillingSettings().missing_outside_development() == []


def test_production_names_every_secret_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("WHMCS_SECRET", "given")
    missing = BillingSettings().missing_outside_development()
    assert "WHMCS_SECRET" not in missing
    assert {"WHMCS_WEBHOOK_SECRET", "BILLING_PAGE_TOKEN_SECRET", "DATABASE_URL", "REDIS_URL",
            "TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE"} <= set(missing)  # fmt: skip


def test_load_stops_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PORTAL_ENV", "staging")
    with pytest.raises(SystemExit) as stopped:
        BillingSettings.load()
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "BILLING_PAGE_TOKEN_SECRET: required outside development" in err
    assert "portal-dev" not in err
