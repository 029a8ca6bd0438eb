"""The support domain's values. Enums reuse the contract's numbers (``support_pb2`` enum values)
so the servicer maps nothing twice; no grpc import here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Comment:
    id: str
    body: str
    created_at: datetime | None
    from_customer: bool


@dataclass(frozen=True)
class Case:
    id: str
    case_number: str
    subject: str
    description: str
    status: int  # support_pb2.CaseStatus
    priority: int  # support_pb2.CasePriority
    category: int  # support_pb2.CaseCategory
    created_at: datetime | None
    comments: tuple[Comment, ...] = field(default=())


@dataclass(frozen=True)
class NewCase:
    """A validated CreateCase request."""

    subject: str
    description: str
    category: int
    priority: int
    request_id: str = ""  # optional idempotency key ("" = none)


@dataclass(frozen=True)
class CasePage:
    cases: tuple[Case, ...]
    next_page_token: str


@dataclass(frozen=True)
class Caller:
    """Who is asking, as identity's directory knows them."""

    user_id: str
    sf_account_id: str
    email: str
