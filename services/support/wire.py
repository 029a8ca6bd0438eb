"""Domain values → the contract's messages."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from portal.support.v1 import support_pb2 as pb

from services.support.model import Case, Comment


def _timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def comment(value: Comment) -> pb.CaseComment:
    return pb.CaseComment(
        id=value.id,
        body=value.body,
        created_at=_timestamp(value.created_at),
        from_customer=value.from_customer,
    )


def case(value: Case) -> pb.Case:
    return pb.Case(
        id=value.id,
        case_number=value.case_number,
        subject=value.subject,
        description=value.description,
        status=value.status,  # type: ignore[arg-type]
        priority=value.priority,  # type: ignore[arg-type]
        category=value.category,  # type: ignore[arg-type]
        created_at=_timestamp(value.created_at),
        comments=[comment(c) for c in value.comments],
    )
