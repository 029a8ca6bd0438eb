"""The SOQL tokenizer/parser on its own (no server)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.salesforce.errors import SfError
from sandbox.salesforce.soql import BoolOp, Compare, parse


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_escaped_string_literals_round_trip(value):
    query = parse(f"SELECT Id FROM Account WHERE Name = '{_escape(value)}'")
    assert isinstance(query.where, Compare)
    assert query.where.values[0].value == value


def test_full_grammar():
    q = parse(
        "select Id, Account.Name from Order where (Status = 'Approved' or Status IN ('Draft')) "
        "and Activation_Status__c != null and EffectiveDate >= 2026-01-01 and "
        "CreatedDate < 2027-01-01T00:00:00Z and not WHMCS_Order_ID__c like 'W%' "
        "order by CreatedDate desc nulls last, OrderNumber limit 10 offset 5"
    )
    assert q.sobject == "Order" and q.fields == ["Id", "Account.Name"]
    assert isinstance(q.where, BoolOp) and q.where.op == "and" and len(q.where.items) == 5
    assert [(o.path, o.descending, o.nulls_last) for o in q.order_by] == [
        ("CreatedDate", True, True),
        ("OrderNumber", False, None),
    ]
    assert (q.limit, q.offset) == (10, 5)
    assert parse("SELECT COUNT() FROM Case").count_only


@pytest.mark.parametrize(
    "text",
    [
        "SELECT FROM Account",
        "SELECT Id FROM Account LIMIT -1",
        "SELECT Id FROM Account WHERE a = 1 AND b = 2 OR c = 3",
        "SELECT Id FROM Account WHERE Name = 'x' extra",
        "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
        "SELECT Id FROM Account WHERE Name = 'trailing\\'",
        'SELECT Id FROM Account WHERE Name = "double"',
    ],
)
def test_malformed(text):
    with pytest.raises(SfError) as err:
        parse(text)
    assert err.value.code == "MALFORMED_QUERY" and err.value.status == 400
