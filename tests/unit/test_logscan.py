"""tools/logscan: known secrets in every cheap encoding, token and key shapes, and the look-alikes
it must leave alone (redacted values, page tokens, key ids, request ids, hashes)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from tools import logscan
from tools.logscan import Secrets, scan

PASSWORD = "s0ak pass/word+1"
REFRESH = "q3F0sJ8xWbZ1Lr9TkVv2Yc7NpHa5Ue4Gd6Mi0Ko-_Xw"  # 43 chars, token_urlsafe(32) shape
JWT = (
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyLTEiLCJhdWQiOiJwb3J0YWwifQ."
    "MEUCIQDx2n4y9sC0aVb1t7Qx3l8mZ0fWq6yJ5uKc2eR9pT4hAiB"
)
SECRETS = {"password": PASSWORD, "whmcs": "portal-dev-secret", "refresh": REFRESH}


def kinds(
    line: str, secrets: dict[str, str] | None = None, allow: tuple[str, ...] = ()
) -> set[str]:
    return {f.kind for f in scan([("svc", line)], secrets or SECRETS, allow)}


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (f'{{"event": "login", "note": "{PASSWORD}"}}', "known:password"),
        (f"POST /api.php body=user%3Dx%26pw%3D{quote_plus(PASSWORD)}", "known:password"),
        (f'{{"body": {json.dumps(json.dumps({"pw": PASSWORD}))}}}', "known:password"),
        (f"cred={base64.b64encode(PASSWORD.encode()).decode()}", "known:password"),
        ("action=GetInvoices&secret=portal-dev-secret", "known:whmcs"),
        (f"rotating {REFRESH}", "known:refresh"),
        (f'{{"authorization": "Bearer {JWT}"}}', "jwt"),
        ("upstream said: Authorization: Bearer abcdefghijklmnop1234", "bearer"),
        ("curl -H 'Authorization: Basic cG9ydGFsLWRldjpzZWNyZXQ='", "basic_auth"),
        ("loaded -----BEGIN PRIVATE KEY-----\\nMIGHAgEAMBMGByqGSM49", "private_key"),
        ("sf session 00D000000000001!AQ0AabcdefghijklmnopqrstuvwxYZ012", "salesforce_session"),
        # Not known to the scan, but a refresh token by its shape.
        ('{"event": "x", "value": "Zx8Kq2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De0Fg2Hi4Jk6L"}', "refresh_token"),
        ('{"password": "hunter22", "event": "signup"}', "key:password"),
        ("password=hunter22&email=a@example.jp", "key:password"),
        ('{"refresh_token": "abc123def456"}', "key:refresh_token"),
        ("GET /oauth/singlesignon.php?access_token=0d1e2f3a4b5c6d7e", "key:access_token"),
        ("client_secret: 'abcdef-ghijkl'", "key:client_secret"),
        ('{"authKey": "9f8e7d6c5b4a39281706f5e4d3c2b1a0"}', "key:authkey"),
    ],
)
def test_finds(line: str, kind: str) -> None:
    assert kind in kinds(line)


@pytest.mark.parametrize(
    "line",
    [
        '{"event": "login_failed", "password": "[redacted]", "token": "[redacted]"}',
        "password=***&secret=<redacted>",
        '{"client_secret": "SecretStr(\'**********\')", "refresh_token": null, "password": ""}',
        '{"event": "session_refreshed", "refresh_token_id": 42, "password_changed": true}',
        # A page token is no credential; nor are request ids, SHA-256 digests, Salesforce ids.
        '{"path": "/v1/invoices?pageSize=1&pageToken=eyJvIjoxfQ.'
        'hkgQ4Tz0pWm8Yx1Rb7Lc3Nv5Ks2Jd9Fa6Ue0IoPy_Ah","status":200}',
        '{"request_id": "0c5f7e9f-66f9-4df3-be45-2a842c893815", "sf_id": "001000000000001AAA"}',
        "digest=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        # Key ids have a refresh token's shape and are public.
        '{"kids": ["1NLk0cD17aA_SXDgAEIXSLGQdcCSlJa5Fd8EgtEa-2c", "ROk5mqaRCQXeN_yFOJgAyGSv'
        'BiEK45Dzdk2YUMYEsmg"], "event": "jwks_loaded"}',
        '{"signing_kid": "1NLk0cD17aA_SXDgAEIXSLGQdcCSlJa5Fd8EgtEa-2c"}',
        # A 43-character word run without digits is no token.
        "the_quick_brown_fox_jumps_over_the_lazy_dog",
        '{"event": "token_refreshed", "tokens": 3, "reason": "token expired"}',
        "POST /v1/auth/login status=200 duration_ms=12",
        # A path segment with a custom method (AIP-136) is no key.
        '{"method":"POST","path":"/v1/auth/password:reset","status":200}',
        '{"path":"/v1/auth/password:change","status":401}',
    ],
)
def test_leaves_alone(line: str) -> None:
    assert kinds(line) == set()


def test_allow_list_silences_a_public_value() -> None:
    kid = "Zx8Kq2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De0Fg2Hi4Jk6L"
    assert kinds(f"published {kid}") == {"refresh_token"}
    assert kinds(f"published {kid}", allow=(kid,)) == set()


def test_ordinary_looking_secrets_are_not_searched() -> None:
    secrets = Secrets({"short": "abc12", "word": "password", "zeros": "000000", "few": "abab-abab",
                       "digits": "20261127"})  # fmt: skip
    assert len(secrets) == 0
    line = '{"event": "x", "password_policy": "abc12", "timestamp": "2026-11-27T11:08:48.000000Z"}'
    assert scan([("svc", line)], secrets) == []
    assert len(Secrets({"real": "demo-password-1"})) > 0


def test_a_finding_masks_the_secret_and_names_process_and_line() -> None:
    lines = [("billing", "fine"), ("identity", "ok"), ("billing", f"leak {REFRESH} here")]
    (finding,) = [f for f in scan(lines, SECRETS) if f.kind == "known:refresh"]
    assert (finding.process, finding.line_no) == ("billing", 2)
    assert REFRESH not in finding.excerpt and REFRESH not in str(finding)
    assert finding.excerpt.startswith("leak q3F…<43 chars>")


def test_many_secrets_sharing_prefixes_are_all_found() -> None:
    tokens = {f"t{i}": f"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2Vy{i:05d}.sig{i}" for i in range(500)}
    secrets = Secrets(tokens)
    lines = [("envoy", f"x {tokens['t7']} y {tokens['t499']}"), ("envoy", tokens["t250"][:-1])]
    found = {f.kind for f in scan(lines, secrets) if f.kind.startswith("known:")}
    assert found == {"known:t7", "known:t499"}  # the truncated t250 is not t250 (nor t25)


def test_pem_secrets_are_the_body_lines() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\nAbC=\n"
    pem += "-----END PRIVATE KEY-----\n"
    assert logscan.pem_secrets("k", pem) == {
        "k[0]": "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg"
    }


def test_cli_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "run.log"
    log.write_text('{"event": "ok"}\n{"event": "bad", "note": "portal-dev-secret"}\n')
    assert logscan.main([str(log), "--secret", "whmcs=portal-dev-secret"]) == 1
    assert "known:whmcs" in capsys.readouterr().out
    assert logscan.main([str(log)]) == 0
