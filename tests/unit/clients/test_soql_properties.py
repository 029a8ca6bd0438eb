"""The SOQL builder against the Salesforce sandbox's own SOQL parser and query engine
(hypothesis): any value becomes exactly one literal that reads back as that value, so no value can
change the shape of a query (no injection), and LIKE patterns match the user's text literally."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sandbox.salesforce.date_literals import PATTERN as DATE_LITERAL
from sandbox.salesforce.errors import SfError
from sandbox.salesforce.query import execute
from sandbox.salesforce.soql import KEYWORDS, BoolOp, Compare, Literal, parse
from sandbox.salesforce.store import Store
from services.common.clients.soql import (
    Like,
    SoqlError,
    ident,
    like_contains,
    like_prefix,
    literal,
    soql,
)

# Any text Salesforce could hold: every code point but NUL (refused by the builder) and lone
# surrogates (not encodable in the JSON of a request).
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
# Text made of what matters to quoting and LIKE, so examples hit the escapes often.
NASTY = st.text(st.sampled_from(list("'\"\\%_{}\n\r\t\b\f aA")), max_size=12)
STRINGS = TEXT | NASTY
INTS = st.integers(min_value=-(10**15), max_value=10**15)  # exact as the parser's float
DECIMALS = st.decimals(allow_nan=False, allow_infinity=False, places=4,
                       min_value=-(10**9), max_value=10**9)  # fmt: skip
FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64)
ZONES = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
DATETIMES = st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30),
                         timezones=ZONES)  # fmt: skip


def where(template: str, *values: Any) -> Any:
    """The parsed WHERE clause of ``SELECT Id FROM Account WHERE <template>``."""
    return parse(soql(f"SELECT Id FROM Account WHERE {template}", *values)).where


@given(STRINGS)
def test_a_string_reads_back_exactly(value: str) -> None:
    assert where("Name = {}", value) == Compare("Name", "=", (Literal("string", value),))


@given(STRINGS, STRINGS, st.integers(0, 2000))
def test_values_cannot_change_the_shape_of_a_query(first: str, second: str, limit: int) -> None:
    text = soql("SELECT Id FROM Account WHERE Name = {} AND Phone != {} ORDER BY Name LIMIT {}",
                first, second, limit)  # fmt: skip
    query = parse(text)
    assert query.where == BoolOp(
        "and",
        (
            Compare("Name", "=", (Literal("string", first),)),
            Compare("Phone", "!=", (Literal("string", second),)),
        ),
    )
    assert [o.path for o in query.order_by] == ["Name"] and query.limit == limit


@given(st.lists(STRINGS | INTS | st.booleans() | st.none(), min_size=1, max_size=5))
def test_in_lists_read_back_item_by_item(values: list[Any]) -> None:
    compare = where("Name IN {}", values)
    assert compare.op == "in" and len(compare.values) == len(values)
    for value, lit in zip(values, compare.values, strict=True):
        assert lit.value == (float(value) if type(value) is int else value)


@given(INTS | DECIMALS | FLOATS)
def test_numbers_read_back_as_the_same_number(value: int | Decimal | float) -> None:
    lit = where("AnnualRevenue = {}", value).values[0]
    assert lit.kind == "number"
    # The parser reads numbers as doubles; the builder's text is the exact decimal.
    assert Decimal(literal(value)) == Decimal(repr(value) if isinstance(value, float) else value)
    assert lit.value == float(value)


@given(st.dates(min_value=date(1, 1, 1)))
def test_dates_read_back(value: date) -> None:
    lit = where("CloseDate = {}", value).values[0]
    assert lit == Literal("date", value.isoformat())


@given(DATETIMES)
def test_datetimes_read_back_in_utc_to_the_second(value: datetime) -> None:
    lit = where("CreatedDate = {}", value).values[0]
    assert lit.kind == "datetime"
    read = datetime.strptime(lit.value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert read == value.replace(microsecond=0)


@given(st.booleans() | st.none())
def test_booleans_and_null(value: bool | None) -> None:
    lit = where("IsDeleted = {}", value).values[0]
    assert lit == (Literal("null", None) if value is None else Literal("boolean", value))


# -- against the sandbox's query engine -----------------------------------------------------------

NAMES = st.lists(STRINGS.filter(str.strip), min_size=1, max_size=6, unique_by=str.casefold)


def _accounts(names: list[str]) -> Store:
    store = Store()
    for name in names:
        store.create("Account", {"Name": name})
    return store


def _names(store: Store, query: str) -> list[str]:
    _total, records = execute(store, parse(query), "v62.0")
    return sorted(r["Name"] for r in records)


@given(NAMES, st.data())
def test_equality_finds_exactly_the_equal_name(names: list[str], data: st.DataObject) -> None:
    probe = data.draw(st.sampled_from(names) | STRINGS, label="probe")
    found = _names(_accounts(names), soql("SELECT Name FROM Account WHERE Name = {}", probe))
    assert found == sorted(n for n in names if n.casefold() == probe.casefold())  # SOQL's "="


@given(NAMES, st.data())
def test_like_patterns_match_the_text_literally(names: list[str], data: st.DataObject) -> None:
    text = data.draw(st.sampled_from(names).flatmap(_part_of) | NASTY, label="text")
    store = _accounts(names)
    for like, regex in [
        (like_contains(text), f".*{re.escape(text)}.*"),
        (like_prefix(text), f"{re.escape(text)}.*"),
        (Like(text), re.escape(text)),
    ]:
        found = _names(store, soql("SELECT Name FROM Account WHERE Name LIKE {}", like))
        expected = [n for n in names if re.fullmatch(regex, n, re.IGNORECASE | re.DOTALL)]
        assert found == sorted(expected), like


def _part_of(name: str) -> st.SearchStrategy[str]:
    return st.tuples(st.integers(0, len(name)), st.integers(0, len(name))).map(
        lambda ab: name[min(ab) : max(ab)]
    )


# -- the only error is SoqlError --------------------------------------------------------------

ANYTHING = st.one_of(
    st.text(), st.floats(), st.decimals(), st.integers(), st.booleans(), st.none(),
    st.dates(), st.datetimes(timezones=st.none() | ZONES | st.just(UTC)),
    st.lists(st.text() | st.floats() | st.lists(st.integers(), max_size=2), max_size=3),
    st.builds(object), st.dictionaries(st.text(), st.integers(), max_size=2),
)  # fmt: skip


@given(ANYTHING)
def test_a_value_becomes_a_valid_literal_or_a_soql_error(value: Any) -> None:
    listed = value if isinstance(value, list) else [value]
    try:
        text = soql("SELECT Id FROM Account WHERE Name IN {}", listed)
    except SoqlError:
        return
    compare = parse(text).where  # an SfError would fail the test
    assert isinstance(compare, Compare) and len(compare.values) == len(listed)


@given(st.text(max_size=20))
def test_ident_accepts_only_api_names(name: str) -> None:
    try:
        checked = ident(name)
    except SoqlError:
        assert not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*", name)
        return
    assert checked == name and re.fullmatch(r"[A-Za-z0-9_.]+", name)
    assume(not set(name.lower().split(".")) & KEYWORDS)
    # Date literals (THIS_MONTH, ...) are tokens of their own in SOQL, never field names.
    assume(not any(re.fullmatch(f"(?i:{DATE_LITERAL})", part) for part in name.split(".")))
    assert parse(f"SELECT {checked} FROM Account").fields == [name]


def test_edge_values_found_by_the_properties() -> None:
    # Exponent notation is not SOQL; strftime("%Y") drops a year's leading zeros.
    assert literal(Decimal("1E+3")) == "1000" and literal(1e-07) == "0.0000001"
    assert literal(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00Z"
    before_year_one = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    for bad in (Decimal("NaN"), Decimal("-Infinity"), before_year_one):
        with pytest.raises(SoqlError):
            literal(bad)
    # 'a\\%': a backslash, then the wildcard (the sandbox read it as a literal percent).
    store = _accounts(["a\\b", "a%"])
    assert _names(
        store, soql("SELECT Name FROM Account WHERE Name LIKE {}", like_prefix("a\\"))
    ) == ["a\\b"]
    with pytest.raises(SfError):
        parse("SELECT Id FROM Account WHERE Name = 'a\\q'")
