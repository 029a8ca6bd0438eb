"""The SOQL builder: every value is an escaped literal, names are checked, wildcards escaped."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.common.clients.soql import (
    Like,
    SoqlError,
    escape_string,
    ident,
    like_contains,
    like_prefix,
    literal,
    soql,
)


def test_string_escapes() -> None:
    assert escape_string("O'Brien") == "O\\'Brien"
    assert escape_string("back\\slash") == "back\\\\slash"
    assert escape_string('say "hi"\n') == 'say \\"hi\\"\\n'
    assert literal("x' OR Name != '") == "'x\\' OR Name != \\''"
    with pytest.raises(SoqlError):
        escape_string("nul\x00")


def test_other_literals() -> None:
    assert literal(None) == "null"
    assert literal(True) == "true"
    assert literal(42) == "42"
    assert literal(Decimal("15.95")) == "15.95"
    assert literal(date(2026, 11, 27)) == "2026-11-27"
    assert literal(datetime(2026, 11, 27, 8, 0, tzinfo=UTC)) == "2026-11-27T08:00:00Z"
    assert literal(["a'", 1]) == "('a\\'', 1)"
    for bad in ([], datetime(2026, 1, 1), float("nan"), object()):
        with pytest.raises(SoqlError):
            literal(bad)  # type: ignore[arg-type]


def test_like_patterns() -> None:
    assert literal(like_contains("50%_off")) == "'%50\\%\\_off%'"
    assert literal(like_prefix("a\\")) == "'a\\\\%'"  # a literal backslash, then the wildcard
    assert literal(like_contains("it's")) == "'%it\\'s%'"
    assert literal(Like("exact")) == "'exact'"


def test_template() -> None:
    q = soql("SELECT Id FROM Account WHERE SF_Account_No__c = {} AND Name != {}", "A{}", "b")
    assert q == "SELECT Id FROM Account WHERE SF_Account_No__c = 'A{}' AND Name != 'b'"
    with pytest.raises(SoqlError):
        soql("SELECT Id FROM Account WHERE Name = {}")
    with pytest.raises(SoqlError):
        soql("SELECT Id FROM Account", "extra")


def test_ident() -> None:
    assert ident("Account.Name") == "Account.Name"
    assert ident("SF_Account_No__c") == "SF_Account_No__c"
    for bad in ("Name; DELETE", "a b", "", "1abc", "Name'"):
        with pytest.raises(SoqlError):
            ident(bad)
