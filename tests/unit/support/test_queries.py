"""The support service's SOQL: whatever the values, the query keeps its shape (checked with the
sandbox's own SOQL parser, written independently from the contract)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from portal.support.v1 import support_pb2 as pb

from sandbox.salesforce.soql import BoolOp, Compare, parse
from services.support import queries
from services.support.mapping import CASE_FIELDS, COMMENT_FIELDS

TEXT = st.text(st.characters(exclude_characters="\x00"), max_size=300)
NASTY = ["' OR Id != null", "\\", "\\'", "%", "_", "' OR '1'='1", "日本語", "x" * 5000]


def test_select_lists_match_the_mapped_fields() -> None:
    assert parse(queries.CASE_SELECT).fields == list(CASE_FIELDS)
    assert parse(queries.COMMENT_SELECT).fields == list(COMMENT_FIELDS)


def _equalities(where: object) -> list[tuple[str, object]]:
    assert isinstance(where, BoolOp) and where.op == "and"
    out = []
    for item in where.items:
        assert isinstance(item, Compare) and item.op == "="
        out.append((item.path, item.values[0].value))
    return out


@given(account=st.one_of(TEXT, st.sampled_from(NASTY)), email=TEXT)
def test_contact_lookup_keeps_its_shape(account: str, email: str) -> None:
    query = parse(queries.contact_of(account, email))
    assert query.sobject == "Contact" and query.limit == 1
    assert _equalities(query.where) == [("AccountId", account), ("Email", email)]


@given(account=TEXT, case_id=st.one_of(TEXT, st.sampled_from(NASTY)))
def test_case_lookup_keeps_its_shape(account: str, case_id: str) -> None:
    query = parse(queries.case_of(account, case_id))
    assert _equalities(query.where) == [("Id", case_id), ("AccountId", account)]


@given(
    account=TEXT,
    status=st.sampled_from(pb.CaseStatus.values()),
    limit=st.integers(1, 101),
    offset=st.integers(0, 2000),
)
def test_listing_keeps_its_shape(account: str, status: int, limit: int, offset: int) -> None:
    query = parse(queries.cases_of(account, status, limit, offset))
    assert (query.limit, query.offset) == (limit, offset)
    assert [(o.path, o.descending) for o in query.order_by] == [
        ("CreatedDate", True),
        ("Id", True),
    ]
    where = query.where
    if status == pb.CASE_STATUS_UNSPECIFIED:
        assert isinstance(where, Compare) and (where.path, where.values[0].value) == (
            "AccountId",
            account,
        )
    else:
        assert _equalities(where)[0] == ("AccountId", account)


@given(case_id=TEXT)
def test_comment_query_keeps_its_shape(case_id: str) -> None:
    query = parse(queries.published_comments(case_id))
    assert _equalities(query.where) == [("ParentId", case_id), ("IsPublished", True)]
    assert [(o.path, o.descending) for o in query.order_by] == [
        ("CreatedDate", False),
        ("Id", False),
    ]
