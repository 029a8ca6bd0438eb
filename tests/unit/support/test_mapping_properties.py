"""Salesforce Case/CaseComment records → the support domain → the contract's messages, on any
record Salesforce can send (hypothesis): nullable fields, picklist values we do not know; text is
never altered, known values keep their meaning, a customer's comment reads back verbatim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from portal.support.v1 import support_pb2 as pb

from services.support import mapping, wire

TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
MISSING = object()
ZONES = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=ZONES
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))  # Salesforce keeps ms


def nullable(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(values, st.none(), st.just(MISSING))


def sf_datetime(moment: datetime, zulu: bool) -> str:
    """``2024-05-01T09:30:00.123+0000`` (the REST API), or with ``Z`` (CDC, some clients)."""
    utc = moment.astimezone(UTC)
    millis = f"{utc.strftime('%Y-%m-%dT%H:%M:%S')}.{utc.microsecond // 1000:03d}"
    return millis + ("Z" if zulu else "+0000")


def picklist(values: list[str]) -> st.SearchStrategy[Any]:
    return nullable(st.sampled_from(values) | TEXT)


CASES = st.fixed_dictionaries(
    {
        "Id": TEXT.filter(bool), "CaseNumber": nullable(TEXT), "Subject": nullable(TEXT),
        "Description": nullable(TEXT), "IsClosed": nullable(st.booleans()),
        "Status": picklist(["New", "Working", "Escalated", "Closed", "On Hold"]),
        "Priority": picklist(["Low", "Medium", "High"]),
        "Type": picklist(["Billing", "Technical", "Order", "SIM", "Other", "Internet", "VPN"]),
        "CreatedDate": nullable(st.builds(sf_datetime, INSTANTS, st.booleans())),
    }
).map(lambda f: {k: v for k, v in f.items() if v is not MISSING})  # fmt: skip
STATUS = {"New": pb.CASE_STATUS_NEW, "Working": pb.CASE_STATUS_WORKING,
          "Escalated": pb.CASE_STATUS_ESCALATED, "Closed": pb.CASE_STATUS_CLOSED}  # fmt: skip
PRIORITY = {"Low": pb.CASE_PRIORITY_LOW, "Medium": pb.CASE_PRIORITY_MEDIUM,
            "High": pb.CASE_PRIORITY_HIGH}  # fmt: skip
CATEGORY = {"Billing": pb.CASE_CATEGORY_BILLING, "Technical": pb.CASE_CATEGORY_TECHNICAL,
            "Order": pb.CASE_CATEGORY_ORDER, "SIM": pb.CASE_CATEGORY_SIM,
            "Other": pb.CASE_CATEGORY_GENERAL, "Internet": pb.CASE_CATEGORY_TECHNICAL,
            "VPN": pb.CASE_CATEGORY_TECHNICAL}  # fmt: skip


def text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


@given(CASES)
def test_cases_keep_every_field_on_the_way_out(record: dict[str, Any]) -> None:
    message = wire.case(mapping.case_from_record(record))
    g = record.get
    assert message.id == record["Id"]
    assert (message.case_number, message.subject, message.description) == (
        text_of(g("CaseNumber")), text_of(g("Subject")), text_of(g("Description"))
    )  # fmt: skip
    closed = pb.CASE_STATUS_CLOSED if g("IsClosed") else pb.CASE_STATUS_WORKING
    assert message.status == STATUS.get(g("Status") or "", closed)
    assert message.priority == PRIORITY.get(g("Priority") or "", pb.CASE_PRIORITY_UNSPECIFIED)
    if not g("Type"):
        assert message.category == pb.CASE_CATEGORY_UNSPECIFIED
    else:
        assert message.category == CATEGORY.get(g("Type"), pb.CASE_CATEGORY_GENERAL)
    if g("CreatedDate"):
        read = message.created_at.ToDatetime(tzinfo=UTC)
        assert sf_datetime(read, g("CreatedDate").endswith("Z")) == g("CreatedDate")
    else:
        assert not message.HasField("created_at")


@given(TEXT, nullable(st.builds(sf_datetime, INSTANTS, st.booleans())))
def test_a_customers_comment_reads_back_verbatim(body: str, created: Any) -> None:
    record = {"Id": "00aDp0000004C9zIAE", "CommentBody": mapping.stored_comment_body(body)}
    if created is not MISSING:
        record["CreatedDate"] = created
    message = wire.comment(mapping.comment_from_record(record))
    assert message.from_customer and message.body == body
    assert message.HasField("created_at") == bool(created and created is not MISSING)


@given(nullable(TEXT))
def test_staff_comments_are_shown_as_written(body: Any) -> None:
    record = {"Id": "00aDp0000004C9zIAE", "CommentBody": body}
    comment = mapping.comment_from_record({k: v for k, v in record.items() if v is not MISSING})
    written = text_of(body)
    assert comment.from_customer == written.startswith(mapping.CUSTOMER_MARKER)
    if not comment.from_customer:
        assert comment.body == written


@given(st.text(max_size=40) | st.integers() | st.none() | st.booleans())
def test_any_created_date_is_a_datetime_or_unset(value: Any) -> None:
    parsed = mapping.parse_datetime(value)
    assert parsed is None or parsed.tzinfo is not None
