"""The OpenAPI fuzz never writes a credential the log scan looks for into a URL or a header:
Hypothesis draws the string constants of the code under test (the sandbox's seeded passwords
among them), and the gateway's access log records the path and query the client sent."""

from __future__ import annotations

import pytest

from sandbox.whmcs.seed import SEED_PASSWORDS
from tests.helpers.fuzzing import OPERATIONS, Fuzzer

CANCEL = OPERATIONS["POST /v1/sims/{msisdn}:cancel"]
INVOICES = OPERATIONS["GET /v1/invoices"]
FUZZER = Fuzzer("http://127.0.0.1:1", {}, {}, secrets=SEED_PASSWORDS)


@pytest.mark.parametrize("password", SEED_PASSWORDS)
def test_a_seeded_password_in_a_path_parameter_is_dropped(password: str) -> None:
    assert FUZZER.shows_a_secret(CANCEL.Case(path_parameters={"msisdn": password}))
    assert FUZZER.shows_a_secret(CANCEL.Case(path_parameters={"msisdn": f"x{password}y"}))


def test_query_headers_and_cookies_are_looked_at_too() -> None:
    password = SEED_PASSWORDS[0]
    assert FUZZER.shows_a_secret(INVOICES.Case(query={"pageToken": password}))
    assert FUZZER.shows_a_secret(INVOICES.Case(headers={"x-note": password}))
    assert FUZZER.shows_a_secret(INVOICES.Case(cookies={"c": password}))


def test_ordinary_values_are_sent() -> None:
    assert not FUZZER.shows_a_secret(CANCEL.Case(path_parameters={"msisdn": "08012345678"}))
    assert not FUZZER.shows_a_secret(INVOICES.Case(query={"pageToken": "demo-password"}))
    assert not Fuzzer("http://127.0.0.1:1", {}, {}).shows_a_secret(
        CANCEL.Case(path_parameters={"msisdn": SEED_PASSWORDS[0]})
    )
